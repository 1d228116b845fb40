"""How fast the SLA clocks are: business-time arithmetic, breach detection, recomputing deadlines.

In one run, on databases of its own (created on the server named, migrated, dropped at the end):

* **additions**: `BusinessCalendar.add(start, PT8H)` and `add(start, P5D)` on the built-in office
  calendar (Asia/Ho_Chi_Minh, VN public holidays), from starts spread over a year, against plain
  `datetime + timedelta` on the same starts; the kinds take turns, round after round, after a
  first pass that fills the calendar's cache of days (reported on its own);
* **breach lag**: the case list is filled with `--open` synthetic rows of open cases whose next
  alarm is days away (read-model rows written straight into `case_summaries`, only there to give
  the timer's index a realistic size); then `--due` real cases are opened through the application
  under a policy of seconds around the clock, received at staggered moments so that their
  first-response deadlines fall due at `--rate` per second, while the real `casemgmt worker`
  (projections and SLA timer, `CASEMGMT_SLA_POLICY` pointing at that policy) runs as a
  subprocess. Each `SlaBreached` event's `timestamp - deadline` is the lag. The policy's
  `warning_at` puts each case's warning 5 s before its breach, so warnings of later cases fall due
  between the breaches of earlier ones: but for the last 5 s of breaches the timer records
  2 × `--rate` alarms a second, as in a steady state; the warnings' lag has a target of its own.
  The policy is marked applied before the worker starts (the cases are opened under it), so the
  timer does not first recompute every open case, as it does after a policy change;
* **recompute**: `--recompute` open cases are opened through the application under the built-in
  office policy; then, round after round, one more working day is declared closed and
  `apply_policy_to_open_cases` (what `casemgmt sla apply` runs) moves every deadline, taking turns
  with a baseline of as many plain `CareCentre.act(…, Action.NOTE, …)` commands (load, one event,
  save) on the same cases.

    python bench/sla.py [--database-url postgresql://…] [--redis-url redis://…]
                        [--open 1000000] [--due 3000] [--rate 100] [--recompute 20000]
                        [--rounds 3] [--additions 100000] [--check]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import TYPE_CHECKING, Final

import psycopg2
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

# Run from the repository root, or from anywhere: casemgmt is imported from this checkout.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.scratch import (
    WorkerProcess,
    add_server_arguments,
    scratch_container,
    scratch_database,
)
from casemgmt.domain import Action, Actor, Case, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.calendar import BusinessDuration
from casemgmt.domain.sla_policy import DEFAULT_POLICY_TOML
from casemgmt.persistence.policy_applied import record_applied_policy
from casemgmt.policy_file import load_policy
from casemgmt.queries.case_ids import case_ids
from casemgmt.runtime.sla_timer import OPEN_STATUSES, TIMER, apply_policy_to_open_cases

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from casemgmt.bootstrap import Container
    from casemgmt.domain.calendar import BusinessCalendar

TARGET_LAG_P99 = 1.0  # seconds, for breaches and (separately) warnings
TARGET_MILLION_SECONDS = 60.0  # recomputing the deadlines of 1,000,000 open cases
MILLION = 1_000_000

INTAKE: Final = Actor("bench-mail-gateway", Role.INTAKE)
SUPERVISOR: Final = Actor("bench-supervisor", Role.SUPERVISOR)
REQUESTER: Final = Requester(RequesterKind.CITIZEN, None, "Lê Văn C")
EIGHT_HOURS: Final = timedelta(hours=8)
FIVE_DAYS: Final = timedelta(days=5)
PT8H: Final = BusinessDuration.parse("PT8H")
P5D: Final = BusinessDuration.parse("P5D")

# The breach-lag policy: one target in seconds around the clock. The first-response target is long
# enough that every case can be received in the past (intake refuses a future `received_at`) and
# still fall due after all are open; the resolution clock's alarms are a month away.
WARNING_LEAD_SECONDS = 5.0  # a case's warning falls due this long (plus half a spacing) before
MIN_TARGET_SECONDS = 6 * 3600
CALIBRATION_CASES = 50  # opened first, to know how long opening the due cases will take
SETUP_THREADS = 4  # opening the recompute cases (not measured)


def intake_context() -> Context:
    return Context(INTAKE, datetime.now(UTC), f"bench-{uuid.uuid4()}", "api")


def open_case(container: Container, received_at: datetime | None = None) -> uuid.UUID:
    case, _ = container.care_centre.open_case(
        channel=Channel.EMAIL,
        subject="Hỏi về trợ cấp thất nghiệp",
        requester=REQUESTER,
        ctx=intake_context(),
        received_at=received_at,
    )
    return case.id


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- 1. business-time additions --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Additions:
    """Calls per second of each kind, round by round (the rounds ran side by side)."""

    count: int
    first_pass: dict[str, float]  # the calendar's cache of days still empty
    rates: dict[str, list[float]]

    def ratios(self, kind: str) -> list[float]:
        return [
            ours / base for ours, base in zip(self.rates[kind], self.rates[BASELINE], strict=True)
        ]


BASELINE = "datetime + timedelta"
BASELINE_PASSES = 20


def addition_kinds(calendar: BusinessCalendar) -> list[tuple[str, Callable[[datetime], object]]]:
    return [
        (BASELINE, lambda start: start + EIGHT_HOURS),
        ("add(start, PT8H)", lambda start: calendar.add(start, PT8H)),
        ("add(start, P5D)", lambda start: calendar.add(start, P5D)),
    ]


def measure_additions(count: int, rounds: int) -> Additions:
    calendar = load_policy(None).calendars["office"]
    rng = random.Random(2026)
    year_start = datetime(2026, 1, 1, tzinfo=UTC)
    seconds_in_year = 365 * 86400
    starts = [year_start + timedelta(seconds=rng.randrange(seconds_in_year)) for _ in range(count)]
    kinds = addition_kinds(calendar)

    def timed(name: str, call: Callable[[datetime], object]) -> float:
        # The baseline goes over the starts several times, to last long enough to be timed.
        passes = BASELINE_PASSES if name == BASELINE else 1
        started = time.perf_counter()
        for _ in range(passes):
            for start in starts:
                call(start)
        return passes * count / (time.perf_counter() - started)

    # A fresh calendar computes each day's working intervals (and asks for holidays) once.
    first_pass = {name: timed(name, call) for name, call in kinds}
    rates: dict[str, list[float]] = {name: [] for name, _ in kinds}
    for turn in range(rounds):
        for name, call in [*kinds[turn % len(kinds) :], *kinds[: turn % len(kinds)]]:
            rates[name].append(timed(name, call))
    return Additions(count, first_pass, rates)


def report_additions(result: Additions) -> None:
    print(f"\n1. business-time additions, {result.count:,} starts over 2026, office calendar")
    print(f"   {'':<22} {'median/s':>12} {'rounds':>23} {'× baseline':>11} {'first pass/s':>13}")
    for name, rates in result.rates.items():
        ratio = "" if name == BASELINE else f"{statistics.median(result.ratios(name)):11.3f}"
        print(
            f"   {name:<22} {statistics.median(rates):>12,.0f} "
            f"{min(rates):>11,.0f}–{max(rates):<11,.0f} {ratio:>11} "
            f"{result.first_pass[name]:>13,.0f}"
        )


# -- 2. breach detection lag with many open deadlines ----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Lag:
    synthetic_rows: int
    synthetic_seconds: float
    due: int
    rate: float
    lead: float  # seconds from a case's warning to its breach
    opening_rate: float  # cases per second, opening the due cases while the worker ran
    opened_late: int  # due cases opened after their warning fell due (left out of the figures)
    breaches: list[float]  # seconds from deadline to the SlaBreached event's timestamp
    warnings: list[float]  # seconds from threshold to the SlaWarning event's timestamp
    duplicates: int  # alarms recorded twice for one clock (there should be none)


def seconds_policy(target_seconds: int, warning_at: float) -> str:
    return f"""\
version = "bench-seconds-1"
warning_at = {warning_at!r}

[calendars.around_the_clock]
always_open = true

[units]
default = "around_the_clock"

[[targets]]
first_response = "PT{target_seconds}S"
resolution = "P30D"
"""


def insert_synthetic_rows(url: str, rows: int) -> float:
    """Open cases straight into the case list, their next alarm 1 to 60 days away; seconds taken.

    Written by one INSERT … SELECT over generate_series: the server makes the rows, so a million
    of them take no Python time. They have no events: they stand for the open cases of a busy
    office in the timer's index (`next_sla_alarm_at`), and nothing reads them otherwise.
    """
    started = time.perf_counter()
    with closing(psycopg2.connect(url)) as conn:
        with conn, conn.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO case_summaries (
                    case_id, reference, status, channel, subject, priority, received_at,
                    last_activity_at, version, search_text,
                    first_response_due, first_response_warning_at, first_response_state,
                    first_response_alarm_at, resolution_due, resolution_warning_at,
                    resolution_state, resolution_alarm_at, next_sla_alarm_at)
                SELECT gen_random_uuid(), 'BENCH-' || g,
                       (ARRAY['received', 'triaged', 'in_progress'])[1 + g %% 3],
                       'email', 'synthetic open case', 'normal', r, r, 3, 'synthetic open case',
                       w + interval '2 hours', w, 'running', w,
                       w + interval '5 days', w + interval '3 days', 'running',
                       w + interval '3 days', w
                FROM (SELECT g, now() - random() * interval '7 days' AS r,
                             now() + interval '1 day' + random() * interval '59 days' AS w
                      FROM generate_series(1, %s) AS g) AS synthetic
                """,
                [rows],
            )
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("ANALYZE case_summaries")
    return time.perf_counter() - started


def alarm_events(container: Container) -> list[Case.SlaWarning | Case.SlaBreached]:
    """Every SLA warning and breach recorded, decoded as the application stores them."""
    topics = [get_topic(Case.SlaWarning), get_topic(Case.SlaBreached)]
    rows = container.datastore.execute(
        "SELECT originator_id, originator_version, topic, state FROM carecentre_events"
        " WHERE topic = ANY(%s) ORDER BY notification_id",
        [topics],
    )
    mapper = container.care_centre.mapper
    events: list[Case.SlaWarning | Case.SlaBreached] = []
    for originator_id, version, topic, state in rows:
        event = mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
        if isinstance(event, Case.SlaWarning | Case.SlaBreached):
            events.append(event)
    return events


def count_breaches(container: Container) -> int:
    rows = container.datastore.execute(
        "SELECT count(*) FROM carecentre_events WHERE topic = %s", [get_topic(Case.SlaBreached)]
    )
    return int(rows[0][0])


def measure_lag(server_url: str, redis_url: str, *, rows: int, due: int, rate: float) -> Lag:
    spacing = 1.0 / rate
    # Half a spacing more, so that a warning falls due midway between two breaches.
    lead = (round(WARNING_LEAD_SECONDS * rate) + 0.5) * spacing
    target = max(MIN_TARGET_SECONDS, math.ceil(4 * due / rate))
    warning_at = 1.0 - lead / target
    with (
        tempfile.TemporaryDirectory(prefix="casemgmt-bench-sla-") as folder,
        scratch_database(server_url, "casemgmt_bench_sla_lag") as url,
    ):
        policy_path = Path(folder) / "seconds.toml"
        policy_path.write_text(seconds_policy(target, warning_at), encoding="utf-8")
        with scratch_container(url, redis_url, policy_path=policy_path) as container:
            # The case list's first start empties the table: start it before filling it.
            container.projections["case_summaries"].resume()
            print(f"   inserting {rows:,} synthetic open rows into case_summaries …", flush=True)
            synthetic_seconds = insert_synthetic_rows(url, rows)
            # The cases are opened under this very policy: mark it applied, or the timer would
            # first recompute every open case (as after a policy change), synthetic rows included.
            record_applied_policy(
                container.datastore,
                container.sla_policy_fingerprint,
                container.sla_policy.version,
                datetime.now(UTC),
            )
            worker = WorkerProcess(container, policy_path=policy_path)
            try:
                worker.wait_until_ready(caught_up=True)
                result = _run_due_cases(container, due=due, rate=rate, target=target, lead=lead)
                if count_breaches(container) < due:
                    print(
                        f"   not every breach was recorded; the worker's log ends:\n{worker.tail()}"
                    )
            finally:
                worker.stop()
            events = alarm_events(container)
    opened, opened_late, opening_rate = result
    breaches: list[float] = []
    warnings: list[float] = []
    seen: set[tuple[uuid.UUID, str, str]] = set()
    duplicates = 0
    for event in events:
        if event.originator_id not in opened or event.clock != "first_response":
            continue
        key = (event.originator_id, event.clock, type(event).__name__)
        duplicates += key in seen
        seen.add(key)
        if isinstance(event, Case.SlaBreached):
            breaches.append((event.timestamp - event.deadline).total_seconds())
        else:
            warnings.append((event.timestamp - event.threshold).total_seconds())
    return Lag(
        synthetic_rows=rows,
        synthetic_seconds=synthetic_seconds,
        due=len(opened),
        rate=rate,
        lead=lead,
        opening_rate=opening_rate,
        opened_late=opened_late,
        breaches=breaches,
        warnings=warnings,
        duplicates=duplicates,
    )


def _run_due_cases(
    container: Container, *, due: int, rate: float, target: int, lead: float
) -> tuple[set[uuid.UUID], int, float]:
    """Opens the due cases so that their deadlines fall due at `rate`, waits for the breaches.

    Returns the ids of the cases measured (those opened before their warning fell due), how many
    were opened too late to count, and the opening rate.
    """
    started = time.perf_counter()
    for _ in range(CALIBRATION_CASES):  # received now: their alarms are hours away
        open_case(container)
    calibrated = CALIBRATION_CASES / (time.perf_counter() - started)
    spacing = timedelta(seconds=1.0 / rate)
    allowance = timedelta(seconds=target)
    # The first warning falls due once every case is open, by this rate with room to spare.
    first_warning = datetime.now(UTC) + timedelta(seconds=1.5 * due / calibrated + 2.0)
    deadlines = [first_warning + timedelta(seconds=lead) + i * spacing for i in range(due)]
    if deadlines[-1] - allowance > datetime.now(UTC):
        msg = f"opening {due} cases at {calibrated:.0f}/s takes longer than the target allows"
        raise RuntimeError(msg)
    print(
        f"   opening {due:,} cases (at {calibrated:,.0f}/s so far); their deadlines fall due "
        f"from {deadlines[0]:%H:%M:%S} UTC for {due / rate:.0f}s …",
        flush=True,
    )
    opened: set[uuid.UUID] = set()
    late = 0
    started = time.perf_counter()
    for deadline in deadlines:
        case_id = open_case(container, received_at=deadline - allowance)
        if datetime.now(UTC) < deadline - timedelta(seconds=lead):
            opened.add(case_id)
        else:
            late += 1
    opening_rate = due / (time.perf_counter() - started)
    give_up = deadlines[-1] + timedelta(seconds=60)
    while datetime.now(UTC) < give_up:
        time.sleep(0.5)
        past = datetime.now(UTC) > deadlines[-1] + timedelta(seconds=1.5)
        if past and count_breaches(container) >= due:
            break
    time.sleep(0.5)
    return opened, late, opening_rate


def report_lag(lag: Lag) -> None:
    window = lag.due / lag.rate
    overlap = max(0.0, window - lag.lead) / window
    print(
        f"\n2. breach detection: {lag.due:,} first-response deadlines at {lag.rate:g}/s over "
        f"{window:.0f}s, the real `casemgmt worker`; each warning falls due {lag.lead:.2f}s before"
    )
    print(
        f"   its breach, between two breaches of earlier cases: {overlap:.0%} of the breaches fell "
        f"due while the timer had {2 * lag.rate:g} alarms/s to record, the rest {lag.rate:g}/s"
    )
    print(
        f"   beside {lag.synthetic_rows:,} synthetic open rows in case_summaries (inserted in "
        f"{lag.synthetic_seconds:.1f}s, read-model rows only: no events, alarms 1–60 days away)"
    )
    print(f"   the due cases were opened at {lag.opening_rate:,.0f}/s through CareCentre.open_case")
    if lag.opened_late:
        print(f"   {lag.opened_late} cases were opened after their warning fell due: left out")
    for label, values in (("breaches", lag.breaches), ("warnings", lag.warnings)):
        if not values:
            print(f"   {label}: none recorded")
            continue
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(
            f"   {label:<9} {len(values):>6,} recorded   p50 {p50 * 1000:6.0f} ms"
            f"   p99 {p99 * 1000:6.0f} ms   max {max(values) * 1000:6.0f} ms"
            f"   min {min(values) * 1000:5.0f} ms"
        )
    if lag.duplicates:
        print(f"   {lag.duplicates} alarms were recorded twice for one clock")


# -- 3. recomputing open deadlines after a calendar change -----------------------------------------


@dataclasses.dataclass(frozen=True)
class Recompute:
    cases: int
    opening_rate: float
    closed_days: list[date]
    recompute: list[float]  # cases per second, round by round
    changed: list[int]  # cases whose deadlines moved, round by round
    notes: list[float]  # commands per second, round by round

    def ratios(self) -> list[float]:
        return [r / n for r, n in zip(self.recompute, self.notes, strict=True)]


def next_working_days(calendar: BusinessCalendar, count: int) -> list[date]:
    """The next `count` working days after today in the calendar's zone (08:00 is working time)."""
    today = datetime.now(calendar.timezone).date()
    days = (today + timedelta(days=n) for n in itertools.count(1))
    working = (
        day
        for day in days
        if calendar.is_open(datetime.combine(day, wall_time(8, 0), calendar.timezone))
    )
    return list(itertools.islice(working, count))


def office_policy_with_closed_days(days: Sequence[date], folder: Path) -> Path:
    """The built-in policy with `days` declared closed in the office calendar (same version: a
    holiday declared at short notice), written as an operator would, for `load_policy`."""
    closed = ", ".join(f'"{day.isoformat()}"' for day in days)
    anchor = 'holidays = "VN"\n'
    assert anchor in DEFAULT_POLICY_TOML
    text = DEFAULT_POLICY_TOML.replace(anchor, f"{anchor}closed = [{closed}]\n", 1)
    path = folder / f"office-{len(days)}-closed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def caught_up(container: Container) -> None:
    if not container.projections.wait_until_caught_up(names=["case_summaries"], timeout=600):
        raise RuntimeError("the case list did not catch up")


def measure_recompute(server_url: str, redis_url: str, *, cases: int, rounds: int) -> Recompute:
    with (
        tempfile.TemporaryDirectory(prefix="casemgmt-bench-sla-") as folder,
        scratch_database(server_url, "casemgmt_bench_sla_recompute") as url,
        scratch_container(url, redis_url) as container,
        ExitStack() as following,  # the case list's worker, stopped before the container
    ):
        print(f"   opening {cases:,} cases under the built-in office policy …", flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            list(pool.map(lambda _: open_case(container), range(cases)))
        opening_rate = cases / (time.perf_counter() - started)
        # `sla apply` recomputes from the case list: it follows the log all along, as in service,
        # in a process of its own (as `casemgmt worker` runs beside `casemgmt sla apply`).
        worker = WorkerProcess(container, only=["case_summaries"])
        following.callback(worker.stop)
        worker.wait_until_ready()
        caught_up(container)
        ids = list(case_ids(container.datastore, statuses=list(OPEN_STATUSES)))
        assert len(ids) == cases, f"{len(ids)} open cases in the case list, not {cases}"

        centre = container.care_centre
        office = load_policy(None).calendars["office"]
        closed_days = next_working_days(office, rounds)
        recompute: list[float] = []
        changed: list[int] = []
        notes: list[float] = []

        def apply(turn: int) -> None:
            caught_up(container)  # the notes of the round before are in the list
            path = office_policy_with_closed_days(closed_days[: turn + 1], Path(folder))
            centre.sla_policy = load_policy(path)  # what `casemgmt sla apply` would load
            ctx = Context(TIMER, datetime.now(UTC), f"sla-apply-{uuid.uuid4()}", "rule:sla-apply")
            started = time.perf_counter()
            done, moved = apply_policy_to_open_cases(centre, container.datastore, ctx)
            recompute.append(done / (time.perf_counter() - started))
            changed.append(moved)

        def note(_: int) -> None:
            # Under the policy the clocks were last recomputed for: the note moves no deadline.
            started = time.perf_counter()
            for case_id in ids:
                ctx = Context(SUPERVISOR, datetime.now(UTC), f"bench-{uuid.uuid4()}", "api")
                centre.act(case_id, Action.NOTE, ctx, text="Đã gọi lại cho người dân.")
            notes.append(len(ids) / (time.perf_counter() - started))

        for turn in range(rounds):
            print(f"   round {turn + 1} of {rounds} …", flush=True)
            for step in (apply, note) if turn % 2 == 0 else (note, apply):
                step(turn)
    return Recompute(cases, opening_rate, closed_days, recompute, changed, notes)


def report_recompute(result: Recompute) -> None:
    days = ", ".join(day.isoformat() for day in result.closed_days)
    print(
        f"\n3. recompute after a calendar change: {result.cases:,} open cases (opened at "
        f"{result.opening_rate:,.0f}/s), one more closed day each round ({days})"
    )
    rows = (
        ("apply_policy_to_open_cases", result.recompute),
        ("baseline: act(NOTE)", result.notes),
    )
    for label, rates in rows:
        print(
            f"   {label:<28} median {statistics.median(rates):8,.0f} cases/s"
            f"   rounds {min(rates):,.0f}–{max(rates):,.0f}"
        )
    ratios = result.ratios()
    print(
        f"   recompute / note           median {statistics.median(ratios):8.2f}"
        f"           rounds {min(ratios):.2f}–{max(ratios):.2f}   (above 1: a case's recompute"
        " costs less than a plain command)"
    )
    print(f"   deadlines moved: {', '.join(f'{n:,}' for n in result.changed)} of {result.cases:,}")


# -- the run ------------------------------------------------------------------------------------


def line(label: str, value: str, met: bool | None = None) -> str:
    verdict = "" if met is None else ("   met" if met else "   NOT MET")
    return f"{label:<46} {value}{verdict}"


def summary(
    additions: Additions | None, lag: Lag | None, recompute: Recompute | None
) -> list[bool]:
    """Prints the table of results (of the parts measured); returns whether each target was met."""
    print("\nsummary")
    for name in list(additions.rates)[1:] if additions is not None else []:
        rate = statistics.median(additions.rates[name])
        ratio = statistics.median(additions.ratios(name))
        print(line(f"  {name}, office calendar", f"{rate:>10,.0f}/s   {ratio:.3f} × {BASELINE}"))
    checks: list[bool] = []
    if lag is not None:
        checks += summarise_lag(lag)
    if recompute is not None:
        checks += summarise_recompute(recompute)
    print()
    print("all targets met" if all(checks) else "some target NOT met")
    return checks


def summarise_lag(lag: Lag) -> list[bool]:
    checks: list[bool] = []
    for label, values in (("breaches", lag.breaches), ("warnings", lag.warnings)):
        p99 = percentile(values, 0.99) if values else math.inf
        met = p99 < TARGET_LAG_P99
        checks.append(met)
        print(
            line(
                f"  {label}: lag p99 ({len(values):,} recorded)",
                f"{p99 * 1000:>10,.0f} ms  target < {TARGET_LAG_P99 * 1000:,.0f} ms",
                met,
            )
        )
    every = len(lag.breaches) == lag.due and len(lag.warnings) == lag.due and not lag.duplicates
    checks.append(every)
    print(line("  every alarm recorded, once", f"{every!s:>10}", every))
    return checks


def summarise_recompute(recompute: Recompute) -> list[bool]:
    rate = statistics.median(recompute.recompute)
    million = MILLION / rate
    met = million < TARGET_MILLION_SECONDS
    print(line("  recompute open deadlines", f"{rate:>10,.0f} cases/s"))
    print(
        line(
            f"    1,000,000 open cases, extrapolated from {recompute.cases:,}",
            f"{million:>10,.0f} s   target < {TARGET_MILLION_SECONDS:.0f} s",
            met,
        )
    )
    ratio = statistics.median(recompute.ratios())
    print(line("    recompute / plain NOTE command", f"{ratio:>10.2f}"))
    return [met]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    add_server_arguments(parser)
    parser.add_argument("--open", type=int, default=1_000_000, help="synthetic open rows")
    parser.add_argument("--due", type=int, default=3000, help="cases whose deadlines fall due")
    parser.add_argument("--rate", type=float, default=100.0, help="deadlines falling due per s")
    parser.add_argument("--recompute", type=int, default=20_000, help="open cases to recompute")
    parser.add_argument("--rounds", type=int, default=3, help="turns each kind takes")
    parser.add_argument("--additions", type=int, default=100_000, help="starts per addition round")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--only",
        choices=["additions", "lag", "recompute"],
        action="append",
        help="measure only this (repeatable); everything when left out",
    )
    args = parser.parse_args(argv)
    if min(args.due, args.recompute, args.rounds, args.additions) < 1 or args.open < 0:
        parser.error("--due, --recompute, --rounds and --additions must be at least 1")
    if args.rate <= 0:
        parser.error("--rate must be more than 0")

    with closing(psycopg2.connect(args.database_url)) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone() or ("?",)
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {os.cpu_count()} cores · "
        f"Python {platform.python_version()} · PostgreSQL {server_version} · "
        f"{args.rounds} rounds"
    )

    parts = set(args.only or ["additions", "lag", "recompute"])
    additions = lag = recompute = None
    if "additions" in parts:
        additions = measure_additions(args.additions, args.rounds)
        report_additions(additions)
    if "lag" in parts:
        print(f"\nmeasuring the breach lag ({args.due:,} deadlines at {args.rate:g}/s) …")
        lag = measure_lag(
            args.database_url, args.redis_url, rows=args.open, due=args.due, rate=args.rate
        )
        report_lag(lag)
    if "recompute" in parts:
        print(f"\nmeasuring the recompute ({args.recompute:,} open cases) …")
        recompute = measure_recompute(
            args.database_url, args.redis_url, cases=args.recompute, rounds=args.rounds
        )
        report_recompute(recompute)

    checks = summary(additions, lag, recompute)
    return 0 if all(checks) or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
