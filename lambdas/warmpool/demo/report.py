"""The demo's HTML report: a timeline chart per pool (inline SVG, no external assets), the decisions,
the notifications and the cost summary. It says what the terminal says, in the same words and figures
(the runner's), for a reader who was not there: what the day was, which zone its times are in, what
the costs count."""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warmpool.demo.runner import DemoResult
    from warmpool.local.stack import LocalSystem

WIDTH = 900
ROW = 26


def _x(at: datetime, start: datetime, end: datetime) -> float:
    span = max(1.0, (end - start).total_seconds())
    return 160 + (WIDTH - 170) * (at - start).total_seconds() / span


# the characters of a pool's name that fit its label column, before the bars at x=160 (11 px type is
# about 6 px a character)
LABEL_CHARS = 24


def _label(name: str, y: int) -> str:
    """A pool's row label: its name, cut to the label column with an ellipsis, and then whole on hover
    (a 63-character job name, as SageMaker allows, ran on over its own bars)."""
    if len(name) <= LABEL_CHARS:
        return f'<text x="4" y="{y + 12}" font-size="11">{html.escape(name)}</text>'
    cut = name[: LABEL_CHARS - 1] + "…"
    return (
        f'<text x="4" y="{y + 12}" font-size="11"><title>{html.escape(name)}</title>{html.escape(cut)}</text>'
    )


def _chart(system: LocalSystem, start: datetime, end: datetime) -> str:
    rows: dict[str, list[str]] = defaultdict(list)
    for job in sorted(system.emulator.jobs.values(), key=lambda j: j.created_at):
        cluster = job.cluster.cluster_id if job.cluster else f"no pool: {job.name}"
        rows[cluster].append(job.name)
        y = 30 + ROW * (list(rows).index(cluster))
        run_end = job.ended_at or end
        x0, x1 = _x(job.created_at, start, end), _x(run_end, start, end)
        title = html.escape(f"{job.name}: {job.status}{' (warm start)' if job.warm_start else ''}")
        rows[cluster].append(
            f'<rect x="{x0:.1f}" y="{y}" width="{max(1.0, x1 - x0):.1f}" height="16" fill="#3b82f6">'
            f"<title>{title}</title></rect>"
        )
        if job.warm_pool is not None and job.ended_at is not None and job.warm_pool.billable_seconds > 0:
            idle_end = job.ended_at + timedelta(seconds=job.warm_pool.billable_seconds)
            i0, i1 = _x(job.ended_at, start, end), _x(idle_end, start, end)
            rows[cluster].append(
                f'<rect x="{i0:.1f}" y="{y + 3}" width="{max(1.0, i1 - i0):.1f}" height="10" fill="#f59e0b">'
                f"<title>warm and idle {job.warm_pool.billable_seconds:.0f} s, then {job.warm_pool.status}"
                "</title></rect>"
            )
    parts = []
    for index, (cluster, items) in enumerate(rows.items()):
        y = 30 + ROW * index
        parts.append(_label(items[0] if not cluster.startswith("no pool") else cluster, y))
        parts.extend(i for i in items[1:] if i.startswith("<rect"))
    hours = []
    t = start.replace(minute=0, second=0)
    while t <= end:
        x = _x(t, start, end)
        hours.append(
            f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{30 + ROW * len(rows)}" stroke="#ddd"/>'
            f'<text x="{x + 2:.1f}" y="14" font-size="10">{t:%H:%M}</text>'
        )
        t += timedelta(hours=1)
    height = 40 + ROW * len(rows)
    title = (
        "Warm pools over the day, hours in UTC: blue while a job runs on the pool, "
        "orange while it is warm and idle"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img">'
        f"<title>{title}</title>"
        '<text x="4" y="14" font-size="10">hour (UTC)</text>' + "".join(hours) + "".join(parts) + "</svg>"
    )


def write_report(system: LocalSystem, result: DemoResult, out_dir: Path) -> Path:
    from warmpool.demo.runner import NOT_THE_SAVINGS, START, local_zone

    out_dir.mkdir(parents=True, exist_ok=True)
    times = [j.created_at for j in system.emulator.jobs.values()]
    start, end = min(times), system.now()
    story = "".join(
        f"<li>{html.escape(told)} &mdash; {html.escape(text)}</li>" for told, text in result.story
    )
    rows = "".join(
        f"<tr><td>{at:%H:%M}</td><td>{html.escape(kind)}</td><td><pre>{html.escape(text)}</pre></td></tr>"
        for at, kind, text in result.timeline
    )
    costs = "".join(
        f"<tr><td>{html.escape(label)}</td><td class=n>${row['idle_usd']:.2f}</td>"
        f"<td class=n>${row['cold_start_usd']:.2f}</td>"
        f"<td class=n>${row['idle_usd'] + row['cold_start_usd']:.2f}</td></tr>"
        for label, row in result.costs.items()
    )
    each = "".join(
        f"<tr><th scope=row>{html.escape(c.job)}</th><td>{html.escape(c.instances)}</td><td>{c.start}</td>"
        f"<td class=n>{c.idle_seconds / 60:.0f} min</td><td class=n>${c.idle_usd:.2f}</td>"
        f"<td class=n>${c.cold_start_usd:.2f}</td></tr>"
        for c in result.job_costs
    )
    checks = "".join(  # a failed check says why, as the terminal does
        f"<li>{'PASS' if c.passed else 'FAIL'}: {html.escape(c.description)}"
        + ("" if c.passed else f" ({html.escape(c.detail)})")
        + "</li>"
        for c in result.checks
    )
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>warmpool demo: one day, three teams</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:75em}}pre{{margin:0;white-space:pre-wrap}}
td,th{{vertical-align:top;padding:2px 8px;text-align:left}}td.n{{text-align:right}}
table{{border-collapse:collapse}}tr:nth-child(even){{background:#f5f5f5}}</style></head><body>
<h1>warmpool demo: one day, three teams</h1>
<p>A scripted working day ({START:%A} {START.day} {START:%B %Y}) of three teams, vision, nlp and
research, training on SageMaker with warm pools under the example policy, replayed through warmpool's
own Lambda handlers on moto with a warm-pool emulator, in virtual time: no AWS account, no real
instances.
Times are UTC (virtual time; {html.escape(local_zone())}), but for the story below: it is told in
Berlin's time, the zone of the policy's working hours.</p>
<h2>The day</h2><ol>{story}</ol>
<h2>Pools</h2><p>One row per warm pool, named after its first job; hover a bar for its job.
Blue: a job running on the pool's instances.
Orange: the pool warm and idle (billed), until reused or released.</p>
{_chart(system, start, end)}
<h2>Checks</h2><p>What the day must show; the demo exits 1 when one fails.</p><ul>{checks}</ul>
<h2>Cost of the day</h2><p>In US dollars: {html.escape(result.cost_basis)}, with warmpool, without a manager
(every job starts cold) and with every pool kept warm a fixed 60 minutes.
Note: {html.escape(NOT_THE_SAVINGS)}.</p>
<table><tr><th scope=col>keep-alive</th><th scope=col>idle</th><th scope=col>cold starts</th>
<th scope=col>total</th></tr>{costs}</table>
<p>Warmpool's row, job by job (the chart's bars in figures): the minutes each job's pool stayed warm and
idle after it, at its instance type's price, and its start, when cold, at the policy's cold and warm
start seconds, priced at its instances and its people's time.</p>
<table><tr><th scope=col>job</th><th scope=col>instances</th><th scope=col>start</th>
<th scope=col>warm and idle</th><th scope=col>idle</th><th scope=col>cold start</th></tr>{each}</table>
<h2>Timeline</h2><p>What warmpool recorded and decided (each decision with its rule and reasons), what it
told SageMaker, and what Slack received.</p>
<table><tr><th scope=col>time (UTC)</th><th scope=col>what</th><th scope=col>details</th></tr>
{rows}</table></body></html>"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
