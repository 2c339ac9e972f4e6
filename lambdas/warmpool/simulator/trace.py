"""Trace CSV files: one row per job. Bad rows are errors naming the line, the column and the fix."""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TextIO

REQUIRED = ("submit_time_s", "duration_s", "pool")
# every column a trace's row is read from (others are left alone, also when their names repeat)
COLUMNS = (
    *REQUIRED,
    "user",
    "team",
    "instance_type",
    "instance_count",
    "status",
    "submitted_at",
    "keep_alive_s",
)
# The years second 0 may fall in: the replay's clock runs on past it for ten years and more (the jobs,
# then their pools' lifetimes), and near datetime's ends (year 1, year 9999) it overflowed, a traceback
CLOCK_YEARS = range(1970, 9000)
CLOCK_RANGE = f"give a moment from {CLOCK_YEARS[0]} to {CLOCK_YEARS[-1]}"
# SageMaker's KeepAlivePeriodInSeconds is 0 to 3600
MAX_KEEP_ALIVE_S = 3600
# No trace spans ten years: a larger submit_time_s or duration_s is an epoch time or milliseconds
MAX_SECONDS = 10 * 365 * 86400
# What a cell a spreadsheet runs as a formula begins with (OWASP, CSV injection): `trace export` writes
# a `'` before such a text cell, which the reader drops again
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A number as a CSV file writes one: the digits 0 to 9, a '.' for decimals, an exponent. float() reads
# more, none of which a trace means: `1_000` (Python's digit grouping), `nan` and `inf`, and the digits
# of other scripts (fullwidth or Arabic-Indic `900`)
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class TraceError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class TraceJob:
    submit_s: float
    duration_s: float
    pool: str
    user: str | None = None
    team: str | None = None
    instance_type: str | None = None
    instance_count: int = 1
    failed: bool = False  # status `Failed`: the job's pool is decided as a failed job's (release_on_failure)
    # the keep-alive the job was created with (`keep_alive_s`, as `trace export` writes it), which the
    # `job` strategy keeps; None when the trace does not say
    keep_alive_s: int | None = None
    line: int = field(default=0, compare=False)  # its line in the trace file, for errors (0: not from a file)

    @property
    def warm_pool(self) -> bool:
        """Whether the job can leave a warm pool and take one: not when it was created with a keep-alive
        of 0 (`keep_alive_s` 0). SageMaker gives such a job no warm pool (`UpdateTrainingJob` can extend
        only an Available one) and lets it reuse none ("each subsequent training job must also specify a
        KeepAlivePeriodInSeconds"). A trace without the column says nothing: every job can."""
        return self.keep_alive_s != 0


def _number(
    row: dict[str, str], column: str, line: int, path: str, what: str = "a number of seconds"
) -> float:
    text = (row.get(column) or "").strip()
    value = float(text) if NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):  # `1e999` matches, and is inf
        raise TraceError(f"{path}:{line}: column {column!r} must be {what}, got {text!r}{_number_fix(text)}")
    if value < 0:
        raise TraceError(
            f"{path}:{line}: column {column!r} must be 0 or more, got {text!r}; {_negative_fix(column)}"
        )
    if column in ("submit_time_s", "duration_s") and value > MAX_SECONDS:
        raise TraceError(
            f"{path}:{line}: column {column!r} is {text} s, more than ten years; it counts seconds from "
            "the trace's start: for an epoch time, subtract the first job's; for milliseconds, divide by 1000"
        )
    return value


def _number_fix(text: str) -> str:
    """How to write a number the way the trace reads it: a spreadsheet writes 1,234.5 (a thousands
    separator) or 1234,5 (a decimal comma) in some locales, and which one `1,234` is nobody can tell."""
    if "," in text:
        return (
            "; write numbers without a thousands separator and with '.' for decimals (1234.5, not 1,234.5 "
            "or 1234,5)"
        )
    if "_" in text:
        return "; write numbers without '_' between the digits (1000, not 1_000)"
    if any(c.isdigit() and not c.isascii() for c in text):
        return "; write numbers in the digits 0 to 9"
    return "; fix or remove the row"


def _negative_fix(column: str) -> str:
    if column == "submit_time_s":
        return (
            "it counts seconds from the trace's start: subtract the earliest submit_time_s from every row's"
        )
    if column == "duration_s":
        return "a job's duration is its end less its start: fix or remove the row"
    return "fix or remove the row"


@dataclass(frozen=True)
class Trace:
    name: str  # the file, as errors name it (`<stdin>` for `-`)
    jobs: list[TraceJob]
    # the moment of second 0, read from a `submitted_at` column (as `trace export` writes): the first
    # job's submitted_at less its submit_time_s; None without one
    start: datetime | None = None
    pending: int = 0  # rows skipped as `Pending` (never scheduled)


def load_trace(path: str | Path) -> list[TraceJob]:
    """Jobs sorted by submit time; rows with status `Pending` (never scheduled) are skipped."""
    return read_trace(path).jobs


def read_trace(path: str | Path) -> Trace:
    """`load_trace`, with the trace's own clock when it has one; `-` reads standard input. Either may be
    gzip-compressed (`trace.csv.gz`, `... | gzip | warmpool simulate -`): its first bytes tell."""
    if str(path) == "-":
        stdin = sys.stdin
        raw = getattr(stdin, "buffer", None)  # bytes, decoded as a file is (not in the terminal's encoding)
        return _decoded(_unpacked(raw, "<stdin>"), "<stdin>") if raw else _decoded(stdin, "<stdin>")
    file = Path(path)
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise TraceError(f"{file}: cannot be read ({exc.strerror})") from None
    with handle:
        return _decoded(_unpacked(handle, str(file)), str(file))


GZIP = b"\x1f\x8b"
ZIP = b"PK\x03\x04"  # a spreadsheet's own format (.xlsx, .ods) is a ZIP archive


def _unpacked(raw: BinaryIO, file: str) -> TextIO:
    """The text of `raw`, decompressed when it is gzip. UTF-8, a spreadsheet's byte-order mark dropped
    (`utf-8-sig`); line endings left to the csv module (`newline=""`), which reads CRLF as LF."""
    # a file and standard input are buffered readers, whose first bytes can be read without consuming
    # them; any other stream (a test's) is read whole
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BytesIO(raw.read())
    head = buffered.peek(4)[:4] if isinstance(buffered, io.BufferedReader) else buffered.getvalue()[:4]
    if head == ZIP:
        raise TraceError(
            f"{file}: is a ZIP archive (a spreadsheet's workbook?), not CSV text; save it as CSV UTF-8"
        )
    if head[:2] == GZIP:
        return io.TextIOWrapper(gzip.GzipFile(fileobj=buffered, mode="rb"), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def _decoded(handle: TextIO, file: str) -> Trace:
    try:
        return _read(handle, file)
    except UnicodeDecodeError as exc:
        raise TraceError(
            f"{file}: is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save it as CSV UTF-8"
        ) from None
    except csv.Error as exc:  # a quote never closed in the header: the rest of the file one field
        raise TraceError(_not_csv(file, exc)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:  # its gzip magic, then not gzip, or cut short
        raise TraceError(
            f"{file}: is gzip-compressed but cannot be decompressed ({exc}); compress it again, or give "
            "the CSV itself"
        ) from None


def _not_csv(where: str, exc: csv.Error) -> str:
    return (
        f'{where}: is not CSV the csv module can read ({exc}); a quote (") that is never closed makes '
        "the rest of the file one field: close it or remove it"
    )


def _moment(text: str, line: int, file: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise TraceError(
            f"{file}:{line}: column 'submitted_at' must be an ISO 8601 moment with its offset, got {text!r}; "
            "e.g. 2026-11-02T09:00:00+00:00, or leave it empty"
        )
    if moment.year not in CLOCK_YEARS:
        raise TraceError(
            f"{file}:{line}: column 'submitted_at' is {text!r}, out of the replay's range: {CLOCK_RANGE}, "
            "or leave it empty"
        )
    return moment


def _read(handle: TextIO, file: str) -> Trace:
    """The rows of `handle`, `file` naming it in errors."""
    jobs: list[TraceJob] = []
    start: datetime | None = None
    # strict: a quote never closed is an error at the end of the file; not strict, the rest of the file
    # became the last field of its row (jobs replayed as one, without a word) unless it passed csv's limit
    reader = csv.DictReader(handle, strict=True)
    if reader.fieldnames:
        reader.fieldnames = [_column(name) for name in reader.fieldnames]
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise TraceError(
            f"{file}:1: missing column(s) {', '.join(missing)}; a trace needs {', '.join(REQUIRED)}"
            f"{_header_hint(reader.fieldnames or [])}"
        )
    _one_column_each(reader.fieldnames or [], file)
    pending = 0
    # one string per name, not one per row: a million jobs of a few pools and teams took ~200 MB more
    names: dict[str, str] = {}

    def same(name: str) -> str:
        return names.setdefault(name, name)

    rows = iter(reader)
    while True:
        opened = reader.line_num + 1  # where the next row begins: the line a quote never closed is on
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TraceError(_not_csv(f"{file}:{opened}", exc)) from None
        line = reader.line_num  # the file's line (blank lines and quoted line breaks counted)
        extra = [value for value in row.pop(None, []) if value.strip()]  # the fields past the header's
        if not extra and not any((value or "").strip() for value in row.values()):
            continue  # `,,,`: a row a spreadsheet once formatted, as empty as a blank line
        if extra:
            raise TraceError(
                f"{file}:{line}: has {len(reader.fieldnames or []) + len(extra)} fields but its header "
                f"{len(reader.fieldnames or [])}; a value with a comma in it (such as a thousands separator, "
                "1,234.5) is split in two: quote it or write it without the comma, 1234.5"
            )
        # the second file's byte-order mark, when both were a spreadsheet's, is now inside the text
        if (row.get("submit_time_s") or "").strip().lstrip("\ufeff").lower() == "submit_time_s":
            raise TraceError(
                f"{file}:{line}: repeats the header (traces joined one after the other?): remove the line, "
                "and give the second trace's submit_time_s the first trace's clock"
            )
        # as SageMaker and other schedulers write them: `Pending`, `PENDING`, `pending` alike
        status = _text(row, "status").lower()
        if status == "pending":
            pending += 1
            continue
        pool = _text(row, "pool")
        if not pool:
            raise TraceError(f"{file}:{line}: column 'pool' is empty; every job needs a pool to match on")
        count_text = (row.get("instance_count") or "").strip()
        count = 1
        if count_text:
            value = _number(row, "instance_count", line, file, "a whole number of instances")
            if value < 1 or value != int(value):
                raise TraceError(
                    f"{file}:{line}: column 'instance_count' must be a whole number of instances, "
                    f"at least 1, got {count_text!r}; fix the row or leave the column empty for 1"
                )
            count = int(value)
        keep_text = (row.get("keep_alive_s") or "").strip()
        keep_alive = None
        if keep_text:
            value = _number(row, "keep_alive_s", line, file, "a whole number of seconds")
            if value != int(value) or value > MAX_KEEP_ALIVE_S:
                raise TraceError(
                    f"{file}:{line}: column 'keep_alive_s' must be a whole number of seconds from 0 to "
                    f"{MAX_KEEP_ALIVE_S} (the job's KeepAlivePeriodInSeconds), got {keep_text!r}; fix the "
                    "row, or leave it empty"
                )
            keep_alive = int(value)
        jobs.append(
            TraceJob(
                submit_s=_number(row, "submit_time_s", line, file),
                duration_s=_number(row, "duration_s", line, file),
                pool=same(pool),
                user=same(_text(row, "user")) or None,
                team=same(_text(row, "team")) or None,
                instance_type=same(_text(row, "instance_type")) or None,
                instance_count=count,
                failed=status == "failed",
                keep_alive_s=keep_alive,
                line=line,
            )
        )
        submitted = (row.get("submitted_at") or "").strip()
        if start is None and submitted:
            start = _moment(submitted, line, file) - timedelta(seconds=jobs[-1].submit_s)
    _one_value_per_pool(jobs, file, "instance count", lambda job: job.instance_count)
    jobs.sort(key=lambda j: j.submit_s)
    return Trace(file, jobs, start, pending)


def _text(row: dict[str, str], column: str) -> str:
    """A text column's value without the spaces around it, nor the `'` that `trace export` writes before
    one a spreadsheet would run as a formula (`'=x`, `'-ops`): the value the job's tag has, which the
    policy's teams and `--by team` name."""
    text = row.get(column) or ""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    return text.strip()


def _column(name: str) -> str:
    """A header's name as the rows are read by: the columns a trace has are lower case, and a
    spreadsheet's `Submit_Time_S ` (title case, a trailing space) names nothing else. Other columns keep
    their names (they are not read)."""
    name = name.strip()
    return name.lower() if name.lower() in COLUMNS else name


def _one_column_each(names: Sequence[str], file: str) -> None:
    """A TraceError naming a column the rows are read from that the header has twice (a spreadsheet's
    column pasted again, two exports joined side by side): csv.DictReader keeps the last one's value
    and drops the other's without a word, so the jobs were replayed on whichever came last."""
    for column in COLUMNS:
        places = [str(n) for n, name in enumerate(names, start=1) if name == column]
        if len(places) > 1:
            raise TraceError(
                f"{file}:1: column {column!r} is there {len(places)} times (columns {', '.join(places)}); "
                "a trace has each column once: remove or rename all but one"
            )


def _header_hint(names: Sequence[str]) -> str:
    """What the first line of a trace without the required columns holds: nothing, columns split by
    another character than the comma (a spreadsheet's export in some locales), or other names."""
    if not names:
        return " in its first line, and the file is empty"
    if len(names) == 1:
        separator = next((c for c in (";", "\t", "|") if c in names[0]), None)
        if separator:
            return f"; its first line is split by {separator!r}, not by commas: save it comma-separated"
    return f"; its first line has {', '.join(names)}"


def _one_value_per_pool(
    jobs: Sequence[TraceJob], file: str | Path, what: str, value: Callable[[TraceJob], object]
) -> dict[str, TraceJob]:
    """Each pool's first job in the file. A job whose `what` differs from its pool's first job's is an
    error naming both lines: a warm pool is reused only by a job of the same shape (the instance type and
    count are part of the match), so such jobs are not one pool."""
    first: dict[str, TraceJob] = {}
    for job in sorted(jobs, key=lambda j: j.line):
        seen = first.setdefault(job.pool, job)
        if value(seen) != value(job):
            raise TraceError(
                f"{file}:{job.line}: pool {job.pool!r} has {what} {value(job)} here but {value(seen)} at "
                f"line {seen.line}; a warm pool has one {what}: give the jobs of each {what} a pool of "
                "their own"
            )
    return first


def pool_instance_types(jobs: Sequence[TraceJob], path: str | Path) -> dict[str, str]:
    """Each pool's instance type, read from its jobs' `instance_type` column (`simulate --instance-type
    trace`). A job without one is an error, and so is a pool whose jobs name two: a warm pool is on one
    instance type, so jobs on different types never take each other's."""
    for job in sorted(jobs, key=lambda j: j.line):
        if job.instance_type is None:
            raise TraceError(
                f"{path}:{job.line}: column 'instance_type' is empty; with --instance-type trace every "
                "job is priced at its own type: fill it in, or price all jobs at one type with "
                "--instance-type TYPE"
            )
    first = _one_value_per_pool(jobs, path, "instance type", lambda job: job.instance_type)
    return {pool: job.instance_type for pool, job in first.items() if job.instance_type is not None}
