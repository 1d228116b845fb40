"""Crash safety: a worker killed in the middle of its writes neither skips nor doubles an event.

The case list writes a batch in one transaction: it moves its position, then upserts the rows the
batch changed. Half of the kills here land exactly between the two: a trigger the test installs on
`projection_tracking` makes the worker's write wait, right after the position moved, for an
advisory lock the test holds; the test kills the worker while it waits and then lets the orphaned
write go on. Written in one transaction, the batch commits whole; split in two, the position would
commit without the rows and the batch would be lost. The other kills land at random moments, mostly
while the worker catches up. Meanwhile cases keep being opened and existing ones worked on.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest

from casemgmt.domain import Action, Actor, Context, Role
from tests.support.projections import (
    Setup,
    WorkerProcess,
    audit_rows,
    fresh_setup,
    queue_snapshot,
    queue_states,
    summary_rows,
    wait_for,
)
from tests.support.workload import MESSAGES, UNITS, CaseTraffic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from uuid import UUID

    from casemgmt.domain import Case
    from casemgmt.settings import Settings

EVENTS = 6_000
KILLS_INSIDE_WRITES = 5
KILLS_AT_RANDOM = 5
CASE_LIST = "case_summaries"
# The advisory lock (a pair of int4 keys, apart from casemgmt's own bigint keys) that the crash
# window waits for. Only while the test holds it does a write of the case list stop there.
WINDOW_KEYS = (7_340_001, 1)
CRASH_WINDOW_TRIGGER = f"""
CREATE FUNCTION test_crash_window() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({WINDOW_KEYS[0]}, {WINDOW_KEYS[1]});
    RETURN NULL;
END $$;
CREATE TRIGGER test_crash_window AFTER UPDATE OF notification_id ON projection_tracking
    FOR EACH ROW WHEN (NEW.projection_name = '{CASE_LIST}')
    EXECUTE FUNCTION test_crash_window();
"""
WAITING_IN_THE_WINDOW = """
SELECT activity.pid, activity.query
FROM pg_locks AS lock JOIN pg_stat_activity AS activity USING (pid)
WHERE lock.locktype = 'advisory' AND lock.classid = %s AND lock.objid = %s
    AND lock.objsubid = 2 AND NOT lock.granted
"""


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        made.container.datastore.execute(CRASH_WINDOW_TRIGGER)
        yield made


class CrashWindow:
    """Stops the case list's writes between moving the position and upserting the rows."""

    def __init__(self, database_url: str) -> None:
        self.conn = psycopg2.connect(database_url)
        self.conn.autocommit = True

    def __enter__(self) -> CrashWindow:
        return self

    def __exit__(self, *_: object) -> None:
        self.conn.close()  # which also lets go of the advisory lock, should the test have failed

    def open(self) -> None:
        """From now on, the next write of the case list waits in the window."""
        self._run("SELECT pg_advisory_lock(%s, %s)", WINDOW_KEYS)

    def close(self) -> None:
        """Lets a write waiting in the window go on, and no further write stop there."""
        self._run("SELECT pg_advisory_unlock(%s, %s)", WINDOW_KEYS)

    def waiting(self) -> tuple[int, str] | None:
        """The server process and statement of the write waiting in the window, if one is."""
        rows = self._run(WAITING_IN_THE_WINDOW, WINDOW_KEYS)
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def gone(self, pid: int) -> bool:
        return not self._run("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))

    def _run(self, query: str, params: tuple[int, ...]) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []


class Workload(CaseTraffic):
    """CaseTraffic that also works on cases it saved earlier: updates as well as new cases."""

    def __init__(self, setup: Setup, seed: int) -> None:
        super().__init__(setup.container.care_centre, seed=seed)
        self.saved: list[UUID] = []
        self.updates = 0

    def save(self, cases: list[Case]) -> int:
        saved = super().save(cases)
        self.saved += [case.id for case in cases]
        return saved

    def work_on_saved_cases(self, number: int) -> int:
        """Gives `number` cases saved earlier one more command each; returns the events saved."""
        ids = self.random.sample(self.saved, min(number, len(self.saved)))
        cases = [self.care_centre.get_case(case_id) for case_id in ids]
        self.clock += timedelta(minutes=5)
        ctx = Context(Actor("mai.tran", Role.SUPERVISOR), self.clock, f"crash-{self.clock}", "api")
        worked = [case for case in cases if self._work_on(case, ctx)]
        saved = len(self.care_centre.save(*worked)) if worked else 0
        self.updates += saved
        return saved

    def _work_on(self, case: Case, ctx: Context) -> bool:
        allowed = set(case.allowed_actions())
        agent = f"agent-{self.random.randint(1, 40)}"
        commands: dict[Action, Callable[[], None]] = {
            Action.NOTE: lambda: case.note("Đã gọi lại cho công dân.", ctx),
            Action.ESCALATE: lambda: case.escalate("Quá hạn xử lý", ctx),
            Action.REPLY: lambda: case.reply(self.random.choice(MESSAGES), ctx),
            Action.UNASSIGN: lambda: case.unassign(ctx),
            Action.TRANSFER: lambda: case.transfer(
                self.random.choice([unit for unit in UNITS if unit != case.unit]), "Địa bàn", ctx
            ),
        }
        if case.assignee != agent:
            commands[Action.ASSIGN] = lambda: case.assign(agent, ctx)
        possible = [action for action in commands if action in allowed]
        if not possible:
            return False  # merged: nothing more happens to it
        commands[self.random.choice(possible)]()
        return True


class Writer:
    """Opens cases and works on existing ones in a thread, until stopped and `events` are saved."""

    def __init__(self, traffic: Workload, events: int) -> None:
        self.traffic = traffic
        self.events = events
        self.written = traffic.busy_day(events // 3)  # a backlog to catch up on from the start
        self.error: BaseException | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._write)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(60)

    def finish(self) -> None:
        """Writes until `events` are saved, then stops; raises what stopped it otherwise."""
        self._stopping.set()
        self._thread.join(60)
        assert self.error is None, self.error
        assert not self._thread.is_alive()

    def _write(self) -> None:
        # Kills land while the worker catches up and while it follows, in batches that create
        # rows and in batches that change them.
        try:
            while self.written < self.events or not self._stopping.is_set():
                self.written += self.traffic.busy_day(1, cases_per_save=5)
                self.written += self.traffic.work_on_saved_cases(10)
                time.sleep(0.02)
        except BaseException as error:
            self.error = error
            raise


def position(setup: Setup) -> int:
    return setup.projections.positions([CASE_LIST])[CASE_LIST] or 0


def moved_from(setup: Setup, positions: dict[str, int | None]) -> Callable[[], bool]:
    return lambda: setup.projections.positions() != positions


def kill_inside_a_write(setup: Setup, worker: WorkerProcess, window: CrashWindow) -> None:
    """Kills the worker while a write of the case list waits between position and rows."""
    window.open()
    try:
        wait_for(lambda: window.waiting() is not None, timeout=10)
        pid, statement = window.waiting() or (0, "")
        assert statement.startswith("WITH moved AS (UPDATE projection_tracking"), statement
        before = position(setup)
        worker.kill()
    finally:
        window.close()
    wait_for(lambda: window.gone(pid), timeout=10)
    # The write outlived its worker: it committed after the kill, so the kill landed inside it.
    assert position(setup) > before, "the write the kill interrupted never committed"


def kill_at_a_random_moment(setup: Setup, worker: WorkerProcess, moments: random.Random) -> bool:
    """Kills the worker, mostly while it catches up after its restart; True: it had work."""
    early = moments.random() < 0.7
    time.sleep(moments.uniform(0.0, 0.08) if early else moments.uniform(0.1, 0.5))
    head = setup.projections.log.head()
    worker.kill()
    return any((at or 0) < head for at in setup.projections.positions().values())


def test_one_transaction_a_worker_killed_inside_its_writes_leaves_views_equal_to_a_rebuild(
    setup: Setup,
) -> None:
    seed = random.randrange(1_000_000)
    moments = random.Random(seed)
    traffic = Workload(setup, seed)
    writer = Writer(traffic, EVENTS)
    worker = WorkerProcess(setup, batch_size=25).start()
    behind_when_killed_at_random = 0
    try:
        with writer, CrashWindow(setup.database_url) as window:
            for kill in range(KILLS_INSIDE_WRITES + KILLS_AT_RANDOM):
                wait_for(moved_from(setup, setup.projections.positions()), timeout=10)  # it works
                if kill % 2 == 0:
                    kill_inside_a_write(setup, worker, window)
                else:
                    behind_when_killed_at_random += kill_at_a_random_moment(setup, worker, moments)
                worker.start()
            writer.finish()
        assert setup.projections.wait_until_caught_up(timeout=30), worker.output()
    finally:
        worker.close()

    print(
        f"{writer.written} events ({traffic.updates} of them on cases saved earlier), "
        f"{KILLS_INSIDE_WRITES} kills inside writes, {KILLS_AT_RANDOM} at random moments "
        f"({behind_when_killed_at_random} of those with work in hand), seed {seed}"
    )
    assert traffic.updates >= 500, "the load must change existing cases, not only create them"
    live_rows, live_queues, live_states, live_audit = (
        summary_rows(setup),
        queue_snapshot(setup),
        queue_states(setup),
        audit_rows(setup),
    )
    latest = dict(
        setup.container.datastore.execute(
            "SELECT originator_id, max(originator_version) FROM carecentre_events GROUP BY 1"
        )
    )
    versions = dict(
        setup.container.datastore.execute("SELECT case_id, version FROM case_summaries")
    )
    assert versions == latest, f"an event was skipped or doubled (seed {seed})"

    setup.projections.rebuild("case_summaries")
    setup.projections.rebuild("work_queues")
    setup.projections.rebuild("audit_log")

    assert summary_rows(setup) == live_rows, f"seed {seed}"
    assert queue_snapshot(setup) == live_queues, f"seed {seed}"
    assert queue_states(setup) == live_states, f"seed {seed}"
    assert audit_rows(setup) == live_audit, f"seed {seed}"
