"""Verification of the event store's hash chains: a case's, or every case's and the log's.

`ChainAudit` reads what the recorder stored (events with their links, each case's head, the seals)
in one snapshot, a page at a time, and hands it to the checks of chain_checks.py. It also makes
anchors: the log chain's head at a moment, for the agency to keep outside the system, since a log
whose newest events are all gone (with their heads and seals) can only be told from one.
"""

from __future__ import annotations

import contextlib
import itertools
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import psycopg2
import psycopg2.extensions

from casemgmt.persistence import schema
from casemgmt.persistence.chain import GENESIS, Sealer, case_link
from casemgmt.persistence.chain_checks import (
    CaseVerdict,
    Link,
    LogCheck,
    Problem,
    Sealing,
    check_case,
)
from casemgmt.persistence.recorders import PostgresApplicationRecorder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore

    Progress = Callable[[int, int], None]

Cursor = psycopg2.extensions.cursor
PAGE: Final = 2000


@dataclass
class StoreVerdict:
    """Every case's chain and the log's, up to the notification that was last when it began."""

    notifications: int = 0
    cases: int = 0
    problems: list[Problem] = field(default_factory=list)
    unsealed: int = 0
    seals_checked: bool = False

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Anchor:
    """The log chain's head at a moment, sealed when there is a key: kept outside the system."""

    notification_id: int
    log_hash: bytes
    at: str  # ISO-8601
    seal: bytes | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "log_hash": self.log_hash.hex(),
            "at": self.at,
            "hmac": None if self.seal is None else self.seal.hex(),
        }


class ChainAudit:
    """Verifies the chains of one application's events table."""

    def __init__(self, datastore: Datastore, events_table_name: str, sealer: Sealer | None) -> None:
        self.datastore = datastore
        self.sealer = sealer
        name = events_table_name
        self.events = schema.qualified(datastore.schema, name)
        self.heads = schema.qualified(datastore.schema, schema.heads_table(name))
        self.seals = schema.qualified(datastore.schema, schema.seals_table(name))
        self._select = (
            "SELECT e.originator_id, e.originator_version, e.topic, e.state, e.notification_id,"
            " e.case_hash, e.log_hash, s.case_seal, s.log_seal"
            f" FROM {self.events} e LEFT JOIN {self.seals} s USING (notification_id)"
        )

    @classmethod
    def of(cls, recorder: object) -> ChainAudit:
        """The audit of an application's recorder (casemgmt's PostgreSQL one), with its key."""
        if not isinstance(recorder, PostgresApplicationRecorder):
            msg = f"only casemgmt's PostgreSQL event store is chained, not {type(recorder)}"
            raise TypeError(msg)
        return cls(recorder.datastore, recorder.events_table_name, recorder.sealer)

    def verify_case(self, case_id: UUID) -> CaseVerdict | None:
        """The case's chain checked; None when the store knows nothing of the case."""
        with self._snapshot() as cursor:
            cursor.execute(f"{self._select} WHERE e.originator_id = %s ORDER BY 2", [case_id])
            links = [_link(row) for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT originator_version, case_hash FROM {self.heads} WHERE originator_id = %s",
                [case_id],
            )
            heads = cursor.fetchall()
            sealing = self._sealing(cursor)
        head = (heads[0][0], bytes(heads[0][1])) if heads else None
        if not links and head is None:
            return None
        return check_case(case_id, links, head, sealing)

    def verify_all(
        self,
        progress: Progress | None = None,
        anchors: Iterable[tuple[int, bytes]] = (),
    ) -> StoreVerdict:
        """Every case's chain, then the log's; `anchors`: (notification id, log hash) kept aside."""
        verdict = StoreVerdict(seals_checked=self.sealer is not None)
        with self._snapshot() as cursor:
            cursor.execute(f"SELECT count(*), max(notification_id) FROM {self.events}")
            count, last = cursor.fetchone() or (0, None)
            sealing = self._sealing(cursor)
            total = 2 * count
            done = itertools.count(1)

            def tick() -> None:
                step = next(done)
                if progress is not None and (step % 500 == 0 or step == total):
                    progress(step, total)

            inserted: set[tuple[UUID, int]] = set()
            for case_id, links, head in self._cases(cursor, tick):
                case = check_case(case_id, links, head, sealing)
                verdict.cases += 1
                verdict.unsealed += case.unsealed
                verdict.problems += case.problems
                inserted |= {
                    (case_id, p.version or 0) for p in case.problems if p.problem == "inserted"
                }
            log = LogCheck(
                sealing,
                lambda link: self._content_intact(cursor, link, sealing),
                inserted=inserted,
                anchors=dict(anchors),
            )
            for link in self._log(cursor, last, tick):
                verdict.notifications += 1
                verdict.problems += log.feed(link)
            verdict.problems += log.end(last)
            verdict.problems += self._orphan_seals(cursor)
        if progress is not None:
            progress(total, total)
        return verdict

    def anchor(self, at: datetime) -> Anchor | None:
        """The log chain's head now (None while the log is empty), sealed when there is a key."""
        rows = self.datastore.execute(
            f"SELECT notification_id, log_hash FROM {self.events}"
            " WHERE log_hash IS NOT NULL ORDER BY notification_id DESC LIMIT 1"
        )
        if not rows:
            return None
        notification_id, log_hash = rows[0][0], bytes(rows[0][1])
        moment = at.isoformat()
        seal = None
        if self.sealer is not None:
            seal = self.sealer.anchor_seal(notification_id, log_hash, moment)
        return Anchor(notification_id, log_hash, moment, seal)

    @contextmanager
    def _snapshot(self) -> Iterator[Cursor]:
        """One connection in a read-only REPEATABLE READ transaction: every read sees one state."""
        with self.datastore.pool.connection() as conn, conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield cursor
            finally:
                with contextlib.suppress(psycopg2.Error):
                    cursor.execute("ROLLBACK")

    def _orphan_seals(self, cursor: Cursor) -> list[Problem]:
        """Seals whose event is gone: what is left of deleted events (with or without the key)."""
        cursor.execute(
            f"SELECT s.notification_id FROM {self.seals} s"
            f" WHERE NOT EXISTS (SELECT FROM {self.events} e"
            " WHERE e.notification_id = s.notification_id) ORDER BY 1"
        )
        detail = "its event is gone: only its seal is left"
        return [Problem("missing", detail, notification_id=n) for (n,) in cursor.fetchall()]

    def _sealing(self, cursor: Cursor) -> Sealing | None:
        if self.sealer is None:
            return None
        cursor.execute(f"SELECT min(notification_id) FROM {self.seals}")
        row = cursor.fetchone()
        return Sealing(self.sealer, row[0] if row else None)

    def _cases(
        self, cursor: Cursor, tick: Callable[[], None]
    ) -> Iterator[tuple[UUID, list[Link], tuple[int, bytes] | None]]:
        """Each case known to the events or the heads, with its events in order and its head."""
        events = self._pages(
            cursor,
            f"{self._select} WHERE (e.originator_id, e.originator_version) > (%s, %s)"
            " ORDER BY 1, 2",
            lambda row: [row[0], row[1]],
            [UUID(int=0), -1],
        )
        heads = self._pages(
            cursor,
            f"SELECT originator_id, originator_version, case_hash FROM {self.heads}"
            " WHERE originator_id > %s ORDER BY 1",
            lambda row: [row[0]],
            [UUID(int=0)],
        )
        grouped = itertools.groupby(events, key=lambda row: row[0])
        by_case: Iterator[tuple[UUID, Iterator[tuple[Any, ...]]]] = iter(grouped)
        next_case = next(by_case, None)
        next_head = next(heads, None)
        while next_case is not None or next_head is not None:
            case_id = min(x[0] for x in (next_case, next_head) if x is not None)
            links: list[Link] = []
            if next_case is not None and next_case[0] == case_id:
                for row in next_case[1]:
                    links.append(_link(row))
                    tick()
                next_case = next(by_case, None)
            head = None
            if next_head is not None and next_head[0] == case_id:
                head = (next_head[1], bytes(next_head[2]))
                next_head = next(heads, None)
            yield case_id, links, head

    def _log(self, cursor: Cursor, last: int | None, tick: Callable[[], None]) -> Iterator[Link]:
        if last is None:
            return
        rows = self._pages(
            cursor,
            f"{self._select} WHERE e.notification_id > %s AND e.notification_id <= {int(last)}"
            " ORDER BY e.notification_id",
            lambda row: [row[4]],
            [0],
        )
        for row in rows:
            tick()
            yield _link(row)

    @staticmethod
    def _pages(
        cursor: Cursor,
        query: str,
        key: Callable[[tuple[Any, ...]], list[Any]],
        start: list[Any],
    ) -> Iterator[tuple[Any, ...]]:
        """The rows of `query` (ordered, its last parameters: the key to start after), by pages."""
        after = start
        while True:
            cursor.execute(f"{query} LIMIT {PAGE}", after)
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < PAGE:
                return
            after = key(rows[-1])

    def _content_intact(self, cursor: Cursor, link: Link, sealing: Sealing | None) -> bool:
        """Whether the event's own bytes still make its case link (and that link's seal)."""
        if link.case_hash is None:
            return False
        previous = GENESIS
        if link.version > 1:
            cursor.execute(
                f"SELECT case_hash FROM {self.events}"
                " WHERE originator_id = %s AND originator_version = %s",
                [link.originator_id, link.version - 1],
            )
            row = cursor.fetchone()
            if row is None or row[0] is None:
                return False
            previous = bytes(row[0])
        if case_link(link.event(), previous) != link.case_hash:
            return False
        if sealing is not None and sealing.expects(link):
            return Sealer.matches(link.case_seal, sealing.sealer.case_seal(link.case_hash))
        return True


def _link(row: tuple[Any, ...]) -> Link:
    def raw(value: Any) -> bytes | None:
        return None if value is None else bytes(value)

    return Link(
        originator_id=row[0] if isinstance(row[0], UUID) else UUID(str(row[0])),
        version=row[1],
        topic=row[2],
        state=bytes(row[3]),
        notification_id=row[4],
        case_hash=raw(row[5]),
        log_hash=raw(row[6]),
        case_seal=raw(row[7]),
        log_seal=raw(row[8]),
    )


__all__ = ["Anchor", "CaseVerdict", "ChainAudit", "Problem", "StoreVerdict"]
