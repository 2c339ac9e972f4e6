"""The pool registry in two DynamoDB tables (key design: docs/registry.md).

The registry table
- `POOL#<pool_id>` / `STATE`: the pool (JSON) plus indexable attributes; GSI `by_status`
  (`gsi1pk` = `STATUS#<WarmPoolStatus>`, `gsi1sk` = `<expires_at or available_since>#<pool_id>`);
  sparse GSI `by_match` for pools not Terminated (`gsi2pk` = `MATCH#<match digest>`,
  `gsi2sk` = `<WarmPoolStatus>#<pool_id>`): the pools of one shape, without reading the others;
  sparse GSI `by_team` for Available pools (`gsi3pk` = `TEAM#<team tag>`, or `NOTEAM` without one;
  `gsi3sk` = `<instance type>#<pool_id>`): one team's warm pools, without reading the others;
  sparse GSI `by_type` for Available pools (`gsi4pk` = `TYPE#<instance type>`, `gsi4sk` = `gsi1sk`): the
  warm pools of one instance type, of every team (an `instance_type_limits` entry counts them all).
- `POOL#<pool_id>` / `UNANNOUNCED`: the pool was saved with notices still to send (`unannounced`), or
  a decision's audit entry still to write (`unaudited`), at `version`; in `by_status` under
  `POOL#UNANNOUNCED` (`gsi1sk` = `<pool_id>`), where the reconciler finds the ones left, until they
  are done and it is removed.
- `INDEXES` / `BACKFILL`: the indexes every live pool item is known to carry the keys of.
- `UPGRADES` / `DONE`: the one-off repairs of what older versions left that have run to the end.
- `JOB#<job_name>` / `POOL`: which pool a job belongs to.
- `HIST#KEY#<match digest>` and `HIST#TEAM#<team>` / `GAPS`: recent idle gaps (bounded), the cold
  starts that uncensored one of them (to undo when the job turns out to have taken a warm pool), and a
  `version` each write is conditioned on.
- `TUNER#<tuning job arn>` / `POOL#<pool_id>`: pools launched by a tuning job, with the trial of it each
  last held and that trial's team and owner tags.
- `TUNING#<tuning job arn>` / `FINISHED`: the notice that it finished (what it says, to whom), recorded
  before it is sent and marked sent after, with a TTL; unsent, it is in `by_status` under
  `TUNING#UNSENT` (`gsi1sk` = `<recorded at>#<tuning job arn>`), where the reconciler finds it.
- `TUNING#<tuning job arn>` / `WATCH`: a tuning job a pool was left to, whose end is not recorded yet
  (a trial of it, or its own name as listed, in `job_name`); in `by_status` under `TUNING#WATCHED`
  (`gsi1sk` = `<next check at>#<tuning job arn>`, `-` for none yet), where the reconciler finds it
  should its final event be lost.
- `LEDGER#<team>` / `DAY#<date>` and `MONTH#<yyyy-mm>`: the idle-cost ledger (`usd_micros`, and each
  instance type's share of it in `usd_micros#<instance type>`), with a TTL;
  `BOOKED#<date>#<job name>`: that job's idle gap is booked for that day (once), with the same TTL.

The audit table (append-only, read per pool)
- `POOL#<pool_id>` / `AUDIT#<time>#<id>`: the audit trail, with a TTL; an entry is never written over
  another (`audit`). Versions before the audit table wrote it into the registry table, same keys,
  where `audit_trail` reads it too until its TTL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from warmpool.domain.codec import (
    decision_from_json,
    gap_from_json,
    gap_to_json,
    notification_from_json,
    notification_to_json,
    pool_from_json,
    pool_to_json,
)
from warmpool.domain.history import HISTORY_LIMIT, ColdStart, add_once, retract_cold_start, uncensor
from warmpool.domain.model import IdleGap, Notification, Pool, WarmPoolStatus
from warmpool.service.ports import (
    SAVE_AUDIT_ROOM,
    AuditEntry,
    ConcurrentUpdateError,
    PoolRecord,
    TunerTrial,
    TuningNotice,
    UnreadableItemError,
    WatchedTuningJob,
)

COLD_STARTS_KEPT = 64  # the latest cold starts of a history, kept to be undone (a join comes within minutes)
HISTORY_WRITE_ATTEMPTS = 8
AUDIT_WRITE_ATTEMPTS = 4  # keys tried for one audit entry (`audit`): each one a new one, later
AUDIT_RETENTION = timedelta(days=90)
STATE_SK = "STATE"
STATUS_INDEX = "by_status"
MATCH_INDEX = "by_match"
TEAM_INDEX = "by_team"
TYPE_INDEX = "by_type"
# The indexes on live pool items that a version without them did not write: backfilled once (below).
BACKFILLED_INDEXES = (MATCH_INDEX, TEAM_INDEX, TYPE_INDEX)
_BACKFILL_KEY = ("INDEXES", "BACKFILL")
_UPGRADES_KEY = ("UPGRADES", "DONE")
# the `by_status` partition of the "tuning job finished" notices recorded and not marked sent
UNSENT_TUNING_NOTICES = "TUNING#UNSENT"
# the `by_status` partition of the tuning jobs a pool was left to and whose end is not recorded yet
WATCHED_TUNING_JOBS = "TUNING#WATCHED"
_WATCH_SK = "WATCH"
# the `by_status` partition of the pools saved with notices still to send (`unannounced_pools`)
UNANNOUNCED_POOLS = "POOL#UNANNOUNCED"
_UNANNOUNCED_SK = "UNANNOUNCED"
_NOT_CHECKED_YET = "-"  # sorts before any time: a watch never checked is due at once
_LEFT_TO_THE_ENGINE = ("ConditionalCheckFailedException", "AccessDeniedException")


class DynamoPoolRegistry:
    def __init__(self, table_name: str, client: Any, *, audit_table_name: str) -> None:
        self.table_name = table_name
        self.audit_table_name = audit_table_name
        self._client = client
        self._backfilled: set[str] = set()  # once complete, an index stays complete: asked once
        self._upgraded: set[str] = set()  # likewise a one-off repair (`upgraded`)

    # ------------------------------------------------------------------ pools
    def get(self, pool_id: str) -> PoolRecord | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(f"POOL#{pool_id}", STATE_SK), ConsistentRead=True
        ).get("Item")
        return _record(item) if item else None

    def pool_id_for_job(self, job_name: str) -> str | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(f"JOB#{job_name}", "POOL"), ConsistentRead=True
        ).get("Item")
        return str(item["pool_id"]["S"]) if item else None

    def put(
        self,
        record: PoolRecord,
        expected_version: int | None,
        *,
        absorbs: PoolRecord | None = None,
        audit: AuditEntry | Sequence[AuditEntry] | None = None,
        keeps_intent: bool = False,
    ) -> PoolRecord:
        from botocore.exceptions import ClientError

        entries = [audit] if isinstance(audit, AuditEntry) else list(audit or ())
        if len(entries) > SAVE_AUDIT_ROOM:  # the caller writes the others after it (`SAVE_AUDIT_ROOM`)
            raise ValueError(f"a save writes at most {SAVE_AUDIT_ROOM} audit entries, not {len(entries)}")

        pool = record.pool
        stored = PoolRecord(
            pool=_with_version(pool, (expected_version or 0) + 1),
            last_decision=record.last_decision,
            last_error=record.last_error,
            next_check_at=record.next_check_at,
            schedule_name=record.schedule_name,
            tuner_owned=record.tuner_owned,
            notified=record.notified,
            unannounced=record.unannounced,
            unaudited=record.unaudited,
            unannounced_by=record.unannounced_by if record.unannounced else None,
        )
        body = {
            "pool": pool_to_json(stored.pool),
            "last_decision": record.last_decision.to_json() if record.last_decision else None,
            "last_error": record.last_error,
            "next_check_at": record.next_check_at.isoformat() if record.next_check_at else None,
            "schedule_name": record.schedule_name,
            "tuner_owned": record.tuner_owned,
            "notified": list(record.notified),
            "unannounced": list(record.unannounced),
            "unaudited": dict(record.unaudited) if record.unaudited is not None else None,
        }
        if stored.unannounced_by:  # only while notices are to send: two short strings, then gone
            body["unannounced_by"] = dict(stored.unannounced_by)
        item: dict[str, Any] = {
            **_key(f"POOL#{pool.pool_id}", STATE_SK),
            "record": {"S": json.dumps(body, sort_keys=True)},
            "version": {"N": str(stored.pool.version)},
            "gsi1pk": {"S": f"STATUS#{pool.status.value}"},
            "gsi1sk": {"S": _status_sort_key(pool)},
            "job_name": {"S": pool.job_name},
            "team": {"S": pool.team or "-"},
            **_index_keys(pool),
        }
        condition: dict[str, Any]
        if expected_version is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        job_item = {**_key(f"JOB#{pool.job_name}", "POOL"), "pool_id": {"S": pool.pool_id}}
        tuner: list[dict[str, Any]] = []
        if pool.tuning_job_arn:
            tuner.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            **_key(f"TUNER#{pool.tuning_job_arn}", f"POOL#{pool.pool_id}"),
                            "pool_id": {"S": pool.pool_id},
                            # the trial, and who hears that its tuning job finished (also once its
                            # pool is another job's: `tuning_trials`)
                            "job_name": {"S": pool.job_name},
                            **{k: {"S": v} for k, v in (("team", pool.team), ("owner", pool.owner)) if v},
                        },
                    }
                }
            )
        if pool.tuning_job_arn and record.tuner_owned:
            # left to its tuning job, which runs: watched until its end is recorded, so that the
            # reconciler finds it if its final event is lost once no pool is left to it
            # (`watched_tuning_jobs`); when it was last checked is kept
            arn = pool.tuning_job_arn
            watch = "SET job_name = :j, gsi1pk = :w, gsi1sk = if_not_exists(gsi1sk, :s)"
            tuner.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _key(f"TUNING#{arn}", _WATCH_SK),
                        "UpdateExpression": watch,
                        "ExpressionAttributeValues": {
                            ":j": {"S": pool.job_name},
                            ":w": {"S": WATCHED_TUNING_JOBS},
                            ":s": {"S": f"{_NOT_CHECKED_YET}#{arn}"},
                        },
                    }
                }
            )
        marks: list[dict[str, Any]] = []
        if record.unannounced or record.unaudited is not None:
            # in the same write as the notices it marks: a failure before they are sent (a send that
            # fails, an invocation that ends) leaves them where the reconciler looks
            # (`unannounced_pools`), also when nothing brings another look at the pool (released)
            marks.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            **_key(f"POOL#{pool.pool_id}", _UNANNOUNCED_SK),
                            "version": {"N": str(stored.pool.version)},
                            "gsi1pk": {"S": UNANNOUNCED_POOLS},
                            "gsi1sk": {"S": pool.pool_id},
                        },
                    }
                }
            )
        absorbed: list[dict[str, Any]] = []
        if absorbs is not None:  # a join: the pool whose job this one takes over goes in the same write
            absorbed.append(
                {
                    "Delete": {
                        "TableName": self.table_name,
                        "Key": _key(f"POOL#{absorbs.pool.pool_id}", STATE_SK),
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": {"N": str(absorbs.pool.version)}},
                    }
                }
            )
        pool_write: dict[str, Any] = {"Put": {"TableName": self.table_name, "Item": item, **condition}}
        if keeps_intent and expected_version is not None:
            pool_write = {"Update": self._update_of(item, expected_version)}
        writes = [
            pool_write,
            {"Put": {"TableName": self.table_name, "Item": job_item}},
            *tuner,
            *marks,
            *absorbed,
        ]
        # A decision's audit entry lands with the save that records the decision, or neither does: an
        # invocation that ended between two writes left the decision saved and out of the trail.
        for _ in range(AUDIT_WRITE_ATTEMPTS if entries else 1):
            puts = [{"Put": self._audit_put(entry)} for entry in entries]
            try:
                self._client.transact_write_items(TransactItems=[*writes, *puts])
                return stored
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if code != "TransactionCanceledException" or "ConditionalCheckFailed" not in reasons:
                    raise
                if "ConditionalCheckFailed" in reasons[: len(writes)]:
                    raise ConcurrentUpdateError(
                        f"pool {pool.pool_id} was changed by another invocation "
                        f"(expected version {expected_version})"
                    ) from exc
                # only the entry's key was taken (another entry of the same instant): a new one, later
        raise ConcurrentUpdateError(
            f"audit entry of pool {pool.pool_id}: each of {AUDIT_WRITE_ATTEMPTS} keys was another "
            "entry's; retry"
        )

    def _update_of(self, item: dict[str, Any], expected_version: int) -> dict[str, Any]:
        """The pool item's write as an UpdateItem (`put`'s `keeps_intent`): its attributes set as the Put
        would write them, the index keys it would leave out removed, and any other attribute (the
        `intent` another invocation saved since: `intend`, which leaves the version as it is) kept."""
        attributes = [name for name in item if name not in ("pk", "sk")]
        removed = [name for name in _OPTIONAL_POOL_ATTRIBUTES if name not in item]
        names = {f"#a{n}": name for n, name in enumerate(attributes)}
        names.update({f"#r{n}": name for n, name in enumerate(removed)})
        expression = "SET " + ", ".join(f"#a{n} = :a{n}" for n in range(len(attributes)))
        if removed:
            expression += " REMOVE " + ", ".join(f"#r{n}" for n in range(len(removed)))
        return {
            "TableName": self.table_name,
            "Key": {"pk": item["pk"], "sk": item["sk"]},
            "UpdateExpression": expression,
            "ConditionExpression": "version = :v",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                **{f":a{n}": item[name] for n, name in enumerate(attributes)},
                ":v": {"N": str(expected_version)},
            },
        }

    def intend(self, record: PoolRecord, intent: Mapping[str, Any]) -> None:
        """The update a decision is about to make, saved with the pool item (`intent`) before
        UpdateTrainingJob: one UpdateItem, conditioned on the version read and leaving it as it is, so
        that the decision's save (a Put of the whole item, which drops it) expects the same version.
        An invocation that ends between the update and its audit entry leaves it for the next look,
        which tells warmpool's own update from someone's outside warmpool by it."""
        from botocore.exceptions import ClientError

        pool = record.pool
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(f"POOL#{pool.pool_id}", STATE_SK),
                UpdateExpression="SET intent = :i",
                ConditionExpression="version = :v",
                ExpressionAttributeValues={
                    ":i": {"S": json.dumps(dict(intent), sort_keys=True, default=str)},
                    ":v": {"N": str(pool.version)},
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise ConcurrentUpdateError(
                f"pool {pool.pool_id} was changed by another invocation (expected version {pool.version})"
            ) from exc

    def list_by_status(
        self, status: str, *, unreadable: list[UnreadableItemError] | None = None
    ) -> list[PoolRecord]:
        """The pools in one state. A pool item written before the `by_match` or `by_team` index
        existed gets their keys here (the reconciler lists the Available and InUse pools every run,
        and the Reused ones once: `backfill_indexes`). An item that cannot be read raises
        UnreadableItemError; given `unreadable`, it is added there instead and the others are listed:
        one item edited by hand must not keep the reconciler from every other pool."""
        records: list[PoolRecord] = []
        for item in self._query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression="gsi1pk = :s",
            ExpressionAttributeValues={":s": {"S": f"STATUS#{status}"}},
        ):
            try:
                record = _record(item)
            except UnreadableItemError as exc:
                if unreadable is None:
                    raise
                unreadable.append(exc)
                continue
            missing = {k: v for k, v in _index_keys(record.pool).items() if k not in item}
            if missing:
                self._add_index_keys(item, missing)
            records.append(record)
        return records

    def pools_of_key(self, match_digest: str) -> list[PoolRecord]:
        """The pools of one match key that have not ended (InUse, Available, Reused), read from the
        `by_match` index: what a job's first event needs (its predecessor on a warm pool, the other
        jobs of its shape running) costs the pools of its shape, not every pool in the account."""
        return [
            _record(item)
            for item in self._query(
                IndexName=MATCH_INDEX,
                KeyConditionExpression="gsi2pk = :m",
                ExpressionAttributeValues={":m": {"S": f"MATCH#{match_digest}"}},
            )
        ]

    def available_of_teams(
        self, teams: Collection[str | None], *, instance_type: str | None = None
    ) -> list[PoolRecord]:
        """The Available pools whose team tag is one of `teams` (None: the pools without one), only
        those of `instance_type` if given, in the order `list_by_status` lists them. One `by_team`
        query per team: a decision about one team's pool reads that team's warm pools, not the
        account's. Until `backfill_indexes` has run once, the index may lack pools written before it:
        they are read from `by_status` then (every Available pool, as before the index)."""
        if not self.indexed(TEAM_INDEX):
            records = self.list_by_status(WarmPoolStatus.AVAILABLE.value)
            return [
                r
                for r in records
                if (r.pool.team or None) in teams
                and (instance_type is None or r.pool.instance_type == instance_type)
            ]
        items = []
        for team in sorted(teams, key=lambda t: t or ""):
            condition = "gsi3pk = :t"
            values: dict[str, Any] = {":t": {"S": _team_partition(team)}}
            if instance_type is not None:
                condition += " AND begins_with(gsi3sk, :i)"
                values[":i"] = {"S": f"{instance_type}#"}
            items += self._query(
                IndexName=TEAM_INDEX, KeyConditionExpression=condition, ExpressionAttributeValues=values
            )
        return [_record(item) for item in sorted(items, key=lambda i: str(i["gsi1sk"]["S"]))]

    def available_of_type(self, instance_type: str) -> list[PoolRecord]:
        """The Available pools of one instance type, of every team, in the order `list_by_status` lists
        them: one `by_type` query. Until `backfill_indexes` has run since the index was added, read
        from `by_status` (every Available pool, as before the index)."""
        if not self.indexed(TYPE_INDEX):
            records = self.list_by_status(WarmPoolStatus.AVAILABLE.value)
            return [r for r in records if r.pool.instance_type == instance_type]
        return [
            _record(item)
            for item in self._query(
                IndexName=TYPE_INDEX,
                KeyConditionExpression="gsi4pk = :t",
                ExpressionAttributeValues={":t": {"S": f"TYPE#{instance_type}"}},
            )
        ]

    def indexed(self, index: str) -> bool:
        """Whether every live pool item carries the keys of `index` (`backfill_indexes` has run since
        the index was added)."""
        if index not in self._backfilled:
            item = self._client.get_item(
                TableName=self.table_name, Key=_key(*_BACKFILL_KEY), ConsistentRead=True
            ).get("Item")
            self._backfilled.update(item["complete"]["SS"] if item else ())
        return index in self._backfilled

    def backfill_indexes(self, *, unreadable: list[UnreadableItemError] | None = None) -> list[str]:
        """Once per index added: give every live pool item written before it the index's keys, and
        record that it is complete. Costs one GetItem while nothing is left to do (the first call of a
        process; then nothing); the run that backfills lists the Available, InUse and Reused pools once.
        Returns the indexes it completed. An item that cannot be read raises UnreadableItemError; given
        `unreadable`, it is added there, the others get their keys, and the backfill is not recorded
        complete (that item lacks them): each later call lists the live pools again until it can be read."""
        todo = [index for index in BACKFILLED_INDEXES if not self.indexed(index)]
        if not todo:
            return []
        met: list[UnreadableItemError] = []
        for status in (WarmPoolStatus.AVAILABLE, WarmPoolStatus.IN_USE, WarmPoolStatus.REUSED):
            # adds the keys an item lacks
            self.list_by_status(status.value, unreadable=met if unreadable is not None else None)
        if unreadable is not None and met:
            unreadable.extend(met)
            return []
        self._client.update_item(
            TableName=self.table_name,
            Key=_key(*_BACKFILL_KEY),
            UpdateExpression="ADD complete :i",
            ExpressionAttributeValues={":i": {"SS": list(BACKFILLED_INDEXES)}},
        )
        self._backfilled.update(BACKFILLED_INDEXES)
        return todo

    def upgraded(self, repair: str) -> bool:
        """Whether the one-off repair `repair` of what older versions left in the registry has run to
        the end here (`record_upgraded`): one GetItem until it has, then none in this process."""
        if repair not in self._upgraded:
            item = self._client.get_item(
                TableName=self.table_name, Key=_key(*_UPGRADES_KEY), ConsistentRead=True
            ).get("Item")
            self._upgraded.update(item["complete"]["SS"] if item else ())
        return repair in self._upgraded

    def record_upgraded(self, repair: str) -> None:
        """Record that the one-off repair `repair` has run to the end: later runs skip it."""
        self._client.update_item(
            TableName=self.table_name,
            Key=_key(*_UPGRADES_KEY),
            UpdateExpression="ADD complete :r",
            ExpressionAttributeValues={":r": {"SS": [repair]}},
        )
        self._upgraded.add(repair)

    def list_pools(
        self,
        *,
        team: str | None = None,
        status: str | None = None,
        unreadable: list[UnreadableItemError] | None = None,
    ) -> list[PoolRecord]:
        """The pools (optionally of one team or state), one `by_status` query per state: no Scan
        reads the histories, ledgers and job index that share the table. An item that cannot be read
        raises UnreadableItemError, or, given `unreadable`, is added there (`list_by_status`)."""
        states = [status] if status is not None else [s.value for s in WarmPoolStatus]
        records = [record for state in states for record in self.list_by_status(state, unreadable=unreadable)]
        if team is not None:
            records = [r for r in records if r.pool.team == team]
        return sorted(records, key=lambda r: r.pool.pool_id)

    def _query(self, *, table: str | None = None, **request: Any) -> list[dict[str, Any]]:
        """Every page of a query of the registry table (or of `table`)."""
        items: list[dict[str, Any]] = []
        pages = self._client.get_paginator("query").paginate(TableName=table or self.table_name, **request)
        for page in pages:
            items.extend(page.get("Items", []))
        return items

    def _add_index_keys(self, item: dict[str, Any], keys: dict[str, Any]) -> None:
        """Add the index keys a pool item written before the index existed lacks (on the version read)."""
        from botocore.exceptions import ClientError

        names = sorted(keys)
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(item["pk"]["S"], item["sk"]["S"]),
                UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in names),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": item["version"], **{f":{n}": keys[n] for n in names}},
            )
        except ClientError as exc:
            # Written meanwhile: the new version carries the keys already. Or a read-only caller (the
            # CLI with the read-only policy of docs/deploy.md): the reconciler's next run indexes it.
            if exc.response["Error"]["Code"] not in _LEFT_TO_THE_ENGINE:
                raise

    def pools_of_tuning_job(self, tuning_job_arn: str) -> list[PoolRecord]:
        """The pools whose job is a trial of the tuning job now. The index keeps every pool a trial
        of it ever held; one taken since by a job of another tuning job (or of none) is that job's,
        and is left out."""
        records = [self.get(trial.pool_id) for trial in self.tuning_trials(tuning_job_arn)]
        return [r for r in records if r is not None and r.pool.tuning_job_arn == tuning_job_arn]

    def tuning_trials(self, tuning_job_arn: str) -> list[TunerTrial]:
        """The tuner index of the tuning job as it is: one trial per pool, the latest of it the pool
        held (items written before they named it: none, and no team or owner)."""
        items = self._query(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"TUNER#{tuning_job_arn}"}},
        )
        return [
            TunerTrial(
                pool_id=str(item["pool_id"]["S"]),
                job_name=_string(item, "job_name"),
                team=_string(item, "team"),
                owner=_string(item, "owner"),
            )
            for item in items
        ]

    def record_tuning_finished(
        self,
        tuning_job_arn: str,
        notification: Notification,
        recorded_at: datetime,
        tuning_created_at: datetime | None = None,
        replaces: TuningNotice | None = None,
    ) -> TuningNotice:
        """A conditional put: the first notice recorded for a tuning job is the one it gets; one of an
        earlier sweep of its name (`replaces`) is written over, if it is still the one recorded. Unsent,
        it is in the `by_status` index under `TUNING#UNSENT` (`unsent_tuning_notices`), until marked
        sent."""
        from botocore.exceptions import ClientError

        at = recorded_at.astimezone(UTC)
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if replaces is not None:
            condition = {
                "ConditionExpression": "#at = :at",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":at": {"S": replaces.recorded_at.astimezone(UTC).isoformat()}},
            }
        created: dict[str, Any] = {}
        if tuning_created_at is not None:
            created = {"created": {"S": tuning_created_at.astimezone(UTC).isoformat()}}
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    **_key(f"TUNING#{tuning_job_arn}", "FINISHED"),
                    "at": {"S": at.isoformat()},
                    "notice": {"S": notification_to_json(notification)},
                    "state": {"S": "unsent"},
                    "gsi1pk": {"S": UNSENT_TUNING_NOTICES},
                    "gsi1sk": {"S": f"{at.isoformat()}#{tuning_job_arn}"},
                    "ttl": {"N": str(int((at + AUDIT_RETENTION).timestamp()))},
                    **created,
                },
                **condition,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            recorded = self.tuning_finished(tuning_job_arn)
            if recorded is not None:
                return recorded
            # expired in between (its TTL): recorded now
            return self.record_tuning_finished(tuning_job_arn, notification, recorded_at, tuning_created_at)
        # its end is recorded: nothing left to watch (a crash before this leaves the watch to the
        # reconciler, which finds the notice recorded and removes it)
        self.unwatch_tuning_job(tuning_job_arn)
        return TuningNotice(tuning_job_arn, notification, at, tuning_created_at=tuning_created_at)

    def tuning_finished(self, tuning_job_arn: str) -> TuningNotice | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=_key(f"TUNING#{tuning_job_arn}", "FINISHED"), ConsistentRead=True
        ).get("Item")
        return _tuning_notice(tuning_job_arn, item) if item else None

    def mark_tuning_finished_sent(self, tuning_job_arn: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(f"TUNING#{tuning_job_arn}", "FINISHED"),
                UpdateExpression="SET #state = :sent REMOVE gsi1pk, gsi1sk",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":sent": {"S": "sent"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":  # expired: nothing to mark
                raise

    def unsent_tuning_notices(self, recorded_before: datetime) -> list[TuningNotice]:
        """One Query of the sparse `TUNING#UNSENT` partition of `by_status`: the notices not marked sent
        (nearly always none), only those recorded before `recorded_before`."""
        items = self._query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression="gsi1pk = :p AND gsi1sk < :t",
            ExpressionAttributeValues={
                ":p": {"S": UNSENT_TUNING_NOTICES},
                ":t": {"S": recorded_before.astimezone(UTC).isoformat()},
            },
        )
        return [_tuning_notice(item["pk"]["S"].removeprefix("TUNING#"), item) for item in items]

    def watched_tuning_jobs(self, due_before: datetime) -> list[WatchedTuningJob]:
        """One Query of the sparse `TUNING#WATCHED` partition of `by_status`: the tuning jobs whose end
        is not recorded, only those due for a check before `due_before` (never checked, or last checked
        long enough ago: `check_tuning_job_at`)."""
        items = self._query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression="gsi1pk = :p AND gsi1sk < :t",
            ExpressionAttributeValues={
                ":p": {"S": WATCHED_TUNING_JOBS},
                ":t": {"S": f"{due_before.astimezone(UTC).isoformat()}$"},  # `$` after `#`: due at it too
            },
        )
        return [
            WatchedTuningJob(str(item["pk"]["S"]).removeprefix("TUNING#"), str(item["job_name"]["S"]))
            for item in items
        ]

    def check_tuning_job_at(self, tuning_job_arn: str, at: datetime) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=_key(f"TUNING#{tuning_job_arn}", _WATCH_SK),
                UpdateExpression="SET gsi1sk = :s",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":s": {"S": f"{at.astimezone(UTC).isoformat()}#{tuning_job_arn}"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":  # unwatched meanwhile
                raise

    def watch_tuning_job(self, tuning_job_arn: str, job_name: str, next_check_at: datetime) -> bool:
        """A conditional put: a watch written meanwhile (a save of a pool left to the tuning job) is
        kept as it is, and a repair made again writes nothing more."""
        from botocore.exceptions import ClientError

        at = next_check_at.astimezone(UTC).isoformat()
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    **_key(f"TUNING#{tuning_job_arn}", _WATCH_SK),
                    "job_name": {"S": job_name},
                    "gsi1pk": {"S": WATCHED_TUNING_JOBS},
                    "gsi1sk": {"S": f"{at}#{tuning_job_arn}"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def unwatch_tuning_job(self, tuning_job_arn: str) -> None:
        self._client.delete_item(TableName=self.table_name, Key=_key(f"TUNING#{tuning_job_arn}", _WATCH_SK))

    def unannounced_pools(self) -> list[str]:
        """One Query of the sparse `POOL#UNANNOUNCED` partition of `by_status`: the pools saved with
        notices still to send (nearly always none, or those being sent right now), by pool id."""
        items = self._query(
            IndexName=STATUS_INDEX,
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues={":p": {"S": UNANNOUNCED_POOLS}},
        )
        return [item["pk"]["S"].removeprefix("POOL#") for item in items]

    def announced(self, pool_id: str, version: int | None) -> None:
        """The pool's notices saved up to `version` were sent: its mark goes, unless a later save (a
        decision with notices of its own) marked it again. None: the pool is gone, the mark too."""
        from botocore.exceptions import ClientError

        condition: dict[str, Any] = (
            {}
            if version is None
            else {
                "ConditionExpression": "version <= :v",
                "ExpressionAttributeValues": {":v": {"N": str(version)}},
            }
        )
        try:
            self._client.delete_item(
                TableName=self.table_name, Key=_key(f"POOL#{pool_id}", _UNANNOUNCED_SK), **condition
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":  # marked again since
                raise

    # ------------------------------------------------------------------ idle-cost ledger
    def add_idle_cost(
        self, team: str, at: datetime, usd: float, booking: str, instance_type: str | None = None
    ) -> bool:
        from botocore.exceptions import ClientError

        if usd <= 0:
            return False
        day, month = _ledger_keys(team, at)
        ttl = {"N": str(int((at + AUDIT_RETENTION).timestamp()))}
        marker = _key(day["pk"]["S"], f"BOOKED#{day['sk']['S'].removeprefix('DAY#')}#{booking}")
        # the instance type's share too, in an attribute of its own beside the total (`usd_micros`):
        # a team's idle cost could not be told apart between its g5 and its p4d pools
        by_type = ", #type :u" if instance_type else ""
        names = {"#ttl": "ttl", **({"#type": _TYPE_MICROS + instance_type} if instance_type else {})}
        add = {
            "TableName": self.table_name,
            "UpdateExpression": f"ADD usd_micros :u{by_type} SET #ttl = :t",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":u": {"N": str(round(usd * 1_000_000))}, ":t": ttl},
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {**marker, "ttl": ttl},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Update": {**add, "Key": day}},
                    {"Update": {**add, "Key": month}},
                ]
            )
        except ClientError as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if exc.response["Error"]["Code"] == "TransactionCanceledException" and reasons[:1] == [
                "ConditionalCheckFailed"
            ]:
                return False  # booked already
            raise
        return True

    def idle_cost(self, team: str, at: datetime) -> tuple[float, float]:
        totals = []
        for key in _ledger_keys(team, at):
            item = self._client.get_item(TableName=self.table_name, Key=key).get("Item")
            totals.append(int(item["usd_micros"]["N"]) / 1_000_000 if item else 0.0)
        return totals[0], totals[1]

    def idle_cost_by_instance_type(
        self, team: str, at: datetime
    ) -> tuple[dict[str | None, float], dict[str | None, float]]:
        """The team's ledgered idle cost for the day and the month of `at` (as `idle_cost`), each by
        instance type: None holds what was booked without one (by the versions before the breakdown),
        the total less the types' shares; a period with nothing booked is empty."""
        periods: list[dict[str | None, float]] = []
        for key in _ledger_keys(team, at):
            item = self._client.get_item(TableName=self.table_name, Key=key).get("Item") or {}
            shares: dict[str | None, float] = {
                name.removeprefix(_TYPE_MICROS): int(value["N"]) / 1_000_000
                for name, value in item.items()
                if name.startswith(_TYPE_MICROS) and "N" in value
            }
            total = int(item["usd_micros"]["N"]) / 1_000_000 if "usd_micros" in item else 0.0
            rest = round(total - sum(shares.values()), 6)
            if rest > 0:
                shares[None] = rest
            periods.append(shares)
        return periods[0], periods[1]

    # ------------------------------------------------------------------ audit
    def audit(self, entry: AuditEntry) -> None:
        """Append one entry, never over another: each write is conditioned on its key being new. A key
        taken (two writers on one clock tick, or a clock that ticks coarser than nanoseconds) gets a
        new one, later, and the write is made again; an entry found there that is this very entry (a
        write that landed, whose answer was lost and which botocore sent again) is the write done.
        An unconditioned PutItem replaced whatever entry had the key, and the trail lost it. An entry
        with a `once_id` has one key, its time and that id: found there, it was written already (the
        press it records handled again), and it is not written twice."""
        from botocore.exceptions import ClientError

        for _ in range(AUDIT_WRITE_ATTEMPTS):
            put = self._audit_put(entry)
            item = put["Item"]
            try:
                self._client.put_item(**put, ReturnValuesOnConditionCheckFailure="ALL_OLD")
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                if exc.response.get("Item") == item or entry.once_id is not None:
                    return
        raise ConcurrentUpdateError(
            f"audit entry {entry.what} of pool {entry.pool_id}: each of {AUDIT_WRITE_ATTEMPTS} keys "
            "was another entry's; retry"
        )

    def _audit_put(self, entry: AuditEntry) -> dict[str, Any]:
        """The write of one audit entry under a new key, on the condition that the key is new."""
        item = {
            **_key(f"POOL#{entry.pool_id}", _audit_sort_key(entry.at, entry.once_id)),
            "job_name": {"S": entry.job_name},
            "what": {"S": entry.what},
            "details": {"S": json.dumps(dict(entry.details), default=str, sort_keys=True)},
            "ttl": {"N": str(int((entry.at + AUDIT_RETENTION).timestamp()))},
        }
        return {
            "TableName": self.audit_table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }

    def audit_trail(self, pool_id: str) -> list[AuditEntry]:
        """The pool's trail, oldest first. The versions before the audit table wrote their entries into
        the registry table, under the same keys, and they stay there until their TTL (90 days): they
        are read from there too, or a pool that lived across the upgrade showed only what was written
        since (`pools show`: `audit: none`), and a release whose save failed before the upgrade lost
        the rule its `keep-alive-updated` entry names. One more Query, of that pool's partition."""
        condition = {
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :a)",
            "ExpressionAttributeValues": {":p": {"S": f"POOL#{pool_id}"}, ":a": {"S": "AUDIT#"}},
        }
        tables = (self.table_name, self.audit_table_name)
        items = [item for table in tables for item in self._query(table=table, **condition)]
        entries: list[tuple[datetime, str, AuditEntry]] = []
        for item in items:
            at = datetime.fromisoformat(item["sk"]["S"].split("#")[1])
            details = json.loads(item["details"]["S"])
            entry = AuditEntry(at, pool_id, item["job_name"]["S"], item["what"]["S"], details)
            entries.append((at, item["sk"]["S"], entry))
        return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1]))]

    # ------------------------------------------------------------------ idle-gap history
    def history(self, match_digest: str, team: str | None) -> tuple[tuple[IdleGap, ...], tuple[IdleGap, ...]]:
        return self._gaps(f"HIST#KEY#{match_digest}"), self._gaps(f"HIST#TEAM#{team}") if team else ()

    def _gaps(self, pk: str) -> tuple[IdleGap, ...]:
        item = self._client.get_item(TableName=self.table_name, Key=_key(pk, "GAPS")).get("Item")
        if not item:
            return ()
        return tuple(gap_from_json(g) for g in json.loads(item["gaps"]["S"]))

    def add_gap(self, match_digest: str, team: str | None, gap: IdleGap) -> bool:
        def change(gaps: list[IdleGap], _: dict[str, Any]) -> bool:
            return add_once(gaps, gap)

        added = [self._update_history(pk, change) for pk in _history_keys(match_digest, team)]
        return added[0]

    def observe_cold_start(self, match_digest: str, team: str | None, at: datetime, job_name: str) -> None:
        def change(gaps: list[IdleGap], cold_starts: dict[str, Any]) -> bool:
            if job_name in cold_starts:
                return False  # seen already, or known to have taken a warm pool (undone before)
            # kept also when it answers for no gap: should an earlier cold start be taken back, the
            # gap that one had taken may be this one's to answer for (`retract_cold_start`)
            cold_starts[job_name] = _cold_start_entry(at, uncensor(gaps, at))
            return True

        for pk in _history_keys(match_digest, team):
            self._update_history(pk, change)

    def undo_cold_start(self, match_digest: str, team: str | None, job_name: str, at: datetime) -> bool:
        undone = False

        def change(gaps: list[IdleGap], cold_starts: dict[str, Any]) -> bool:
            nonlocal undone
            seen = cold_starts.get(job_name)
            mine = _cold_start_of(job_name, seen) if seen is not None else None
            if mine is not None and mine.undone:
                return False  # undone already
            if mine is not None:
                taken = [_cold_start_of(job, entry) for job, entry in cold_starts.items()]
                put_back, again = retract_cold_start(gaps, taken, job_name)
                undone = put_back or undone
                for later in again:  # answered again, as if this job's cold start had never come
                    cold_starts[later.job_name] = _cold_start_entry(later.at, later.gap)
            # kept, undone: a cold start of this job reported after this is not taken as one
            cold_starts[job_name] = _cold_start_entry(mine.at if mine else at, None, undone=True)
            return True

        for pk in _history_keys(match_digest, team):
            self._update_history(pk, change)
        return undone

    def _update_history(self, pk: str, change: Callable[[list[IdleGap], dict[str, Any]], bool]) -> bool:
        """Read-modify-write of one history item, conditioned on the version read: two writers at once
        (another pool's gap, a cold start, its undo) both land, the later one after reading again.
        Returns whether `change` changed it (and it was written)."""
        from botocore.exceptions import ClientError

        key = _key(pk, "GAPS")
        for _ in range(HISTORY_WRITE_ATTEMPTS):
            item = self._client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")
            gaps = [gap_from_json(g) for g in json.loads(item["gaps"]["S"])] if item else []
            cold_starts: dict[str, Any] = (
                json.loads(item["cold_starts"]["S"]) if item and "cold_starts" in item else {}
            )
            if not change(gaps, cold_starts):
                return False
            condition: dict[str, Any]
            if item is None:
                condition = {"ConditionExpression": "attribute_not_exists(pk)"}
            elif "version" not in item:  # written before histories had a version
                condition = {"ConditionExpression": "attribute_not_exists(version)"}
            else:
                condition = {
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": item["version"]},
                }
            kept = sorted(cold_starts.items(), key=lambda entry: str(entry[1]["at"]))[-COLD_STARTS_KEPT:]
            version = int(item["version"]["N"]) + 1 if item and "version" in item else 1
            try:
                self._client.put_item(
                    TableName=self.table_name,
                    Item={
                        **key,
                        "gaps": {"S": json.dumps([gap_to_json(g) for g in gaps[-HISTORY_LIMIT:]])},
                        "cold_starts": {"S": json.dumps(dict(kept), sort_keys=True)},
                        "version": {"N": str(version)},
                    },
                    **condition,
                )
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        raise ConcurrentUpdateError(
            f"the idle-gap history {pk} changed under each of {HISTORY_WRITE_ATTEMPTS} writes; retry"
        )


def _cold_start_entry(at: datetime, gap: IdleGap | None, *, undone: bool = False) -> dict[str, Any]:
    """A history's `cold_starts` entry: when the job was taken as a cold start, the gap that
    uncensored, as it was before (None: none), and whether it was undone (the job had taken a warm
    pool)."""
    return {"at": at.isoformat(), "gap": None if gap is None else gap_to_json(gap), "undone": undone}


def _cold_start_of(job_name: str, entry: dict[str, Any]) -> ColdStart:
    gap = entry.get("gap")
    return ColdStart(
        job_name,
        datetime.fromisoformat(entry["at"]),
        None if gap is None else gap_from_json(gap),
        # an entry written before cold starts without a gap were kept: no gap meant undone
        undone=bool(entry.get("undone", gap is None)),
    )


def _history_keys(match_digest: str, team: str | None) -> list[str]:
    return [f"HIST#KEY#{match_digest}"] + ([f"HIST#TEAM#{team}"] if team else [])


def _audit_sort_key(at: datetime, once_id: str | None = None) -> str:
    """An audit entry's sort key: its time, then the nanosecond clock and a random suffix, so that
    entries of the same time keep the order they were written in, and two writers seldom meet; or,
    for an entry written once however often its cause is handled, its time and its `once_id`."""
    if once_id is not None:
        return f"AUDIT#{at.isoformat()}#once-{once_id}"
    return f"AUDIT#{at.isoformat()}#{time.time_ns():020d}{uuid.uuid4().hex[:4]}"


# a ledger item's share of one instance type: `usd_micros#ml.g5.2xlarge` (`usd_micros` is the total)
_TYPE_MICROS = "usd_micros#"


def _ledger_keys(team: str, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    pk = f"LEDGER#{team or '-'}"
    return _key(pk, f"DAY#{at.strftime('%Y-%m-%d')}"), _key(pk, f"MONTH#{at.strftime('%Y-%m')}")


# The pool item's attributes that `_index_keys` writes only in some states: an UpdateItem of the item
# (`_update_of`) removes those its state leaves out, as a Put of the whole item would
_OPTIONAL_POOL_ATTRIBUTES = ("gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk")


def _index_keys(pool: Pool) -> dict[str, Any]:
    """The keys of the sparse indexes of a pool item: `by_match` while the pool has not ended,
    `by_team` and `by_type` while it is Available."""
    keys: dict[str, Any] = {}
    if pool.status is not WarmPoolStatus.TERMINATED:
        keys["gsi2pk"] = {"S": f"MATCH#{pool.match_key.digest()}"}
        keys["gsi2sk"] = {"S": f"{pool.status.value}#{pool.pool_id}"}
    if pool.status is WarmPoolStatus.AVAILABLE:
        keys["gsi3pk"] = {"S": _team_partition(pool.team)}
        keys["gsi3sk"] = {"S": f"{pool.instance_type}#{pool.pool_id}"}
        keys["gsi4pk"] = {"S": f"TYPE#{pool.instance_type}"}
        keys["gsi4sk"] = {"S": _status_sort_key(pool)}
    return keys


def _status_sort_key(pool: Pool) -> str:
    """`by_status`'s sort key, also `by_type`'s: by expiry (or the start of the idle time), then id."""
    sort_time = pool.expires_at or pool.available_since
    return f"{sort_time.isoformat() if sort_time else '-'}#{pool.pool_id}"


def _team_partition(team: str | None) -> str:
    """The `by_team` partition of a team tag; a pool without one (or with an empty one) counts for the
    policy's default team, which the policy may change: it has a partition of its own."""
    return f"TEAM#{team}" if team else "NOTEAM"


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _string(item: dict[str, Any], name: str) -> str | None:
    return str(item[name]["S"]) if name in item else None


def _tuning_notice(tuning_job_arn: str, item: dict[str, Any]) -> TuningNotice:
    """A `TUNING#` item; one written by a version before notices were recorded holds no notice and
    was a claim, given back when its send failed: it counts as sent."""
    at = datetime.fromisoformat(item["at"]["S"])
    if "notice" not in item:
        return TuningNotice(tuning_job_arn, None, at, sent=True)
    notification = notification_from_json(item["notice"]["S"])
    created = datetime.fromisoformat(item["created"]["S"]) if "created" in item else None
    sent = item.get("state", {}).get("S") == "sent"
    return TuningNotice(tuning_job_arn, notification, at, sent=sent, tuning_created_at=created)


def _with_version(pool: Any, version: int) -> Any:
    from dataclasses import replace

    return replace(pool, version=version)


class _Fields(Mapping[str, Any]):
    """A stored JSON object that remembers the field read last: the one an error reading it is about
    (each field is read, then converted)."""

    def __init__(self, data: object) -> None:
        if not isinstance(data, dict):
            raise TypeError(f"not a JSON object: {type(data).__name__}")
        self._data: dict[str, Any] = data
        self.last: str | None = None

    def __getitem__(self, key: str) -> Any:
        self.last = key
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _who_asked(value: Any) -> dict[str, str] | None:
    """`unannounced_by` as saved (`user`, `via`); None when absent (a version before it was kept)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("user"), str):
        raise ValueError(f"unannounced_by is {value!r}, not an object with a user")
    return {k: str(v) for k, v in value.items() if k in ("user", "via") and v is not None}


def _record(item: dict[str, Any]) -> PoolRecord:
    """A pool item. Every shape an earlier version wrote is read (fields it did not write take their
    defaults); one that cannot be read is an error naming the item, the field and what to do, not a
    KeyError from deep inside that said neither which item it was nor that it was the item's fault."""
    body: _Fields | None = None
    fields: _Fields | None = None
    try:
        body = _Fields(json.loads(item["record"]["S"]))
        body.last = None
        fields = _Fields(body["pool"])
        pool = pool_from_json(fields)
        fields = None  # the pool is read: what follows is the record's own, each read then converted
        last = body.get("last_decision")
        last_decision = decision_from_json(last) if last else None
        next_check = body.get("next_check_at")
        next_check_at = datetime.fromisoformat(next_check) if next_check else None
        body.last = "intent"  # an attribute of its own (`intend`), read as the record's field
        intent = _Fields(json.loads(item["intent"]["S"])) if "intent" in item else None
        return PoolRecord(
            pool=pool,
            last_decision=last_decision,
            last_error=body.get("last_error"),
            next_check_at=next_check_at,
            schedule_name=body.get("schedule_name"),
            tuner_owned=bool(body.get("tuner_owned")),
            notified=tuple(body.get("notified") or ()),
            unannounced=tuple(body.get("unannounced") or ()),
            unaudited=body.get("unaudited"),
            unannounced_by=_who_asked(body.get("unannounced_by")),
            intent=dict(intent) if intent is not None else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        pk, sk = item.get("pk", {}).get("S", "?"), item.get("sk", {}).get("S", "?")
        if fields is not None:
            field = f"pool.{fields.last}" if fields.last else "pool"
        else:
            field = body.last if body is not None and body.last else "record"
        raise UnreadableItemError(
            f"registry item {pk} / {sk} cannot be read (field {field}: {type(exc).__name__}: {what}): it "
            "was edited by hand or written by a version this one does not know. Restore it from the "
            "registry table's point-in-time recovery, or write it again as docs/registry.md describes "
            "the pool item",
            key=f"{pk} / {sk}",
            field=field,
        ) from exc
