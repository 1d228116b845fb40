"""What-if: the SLA compliance past cases would have had under another policy or calendar.

Nothing is changed. Each case's own events are applied to a fresh copy of the case, its recorded
SLA events left out, and its clocks are kept under the other policy after each event, at the
moment it happened, exactly as the application keeps them under the policy in force. The clocks
the case really had are read from its history. Both are then counted the same way: a clock that
stopped by its deadline is met, one that stopped after it or still runs past it is breached, one
still running before its deadline is open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from casemgmt.domain import Actor, Case, Context, Role
from casemgmt.domain.sla import ClockName, ClockState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from casemgmt.domain.sla import SlaClock
    from casemgmt.domain.sla_policy import SlaPolicy

_REPLAY: Final = Actor("sla-replay", Role.SYSTEM)
GROUPINGS: Final = ("channel", "unit", "priority")


@dataclass
class Compliance:
    """Met, breached and still open clocks: what a policy gave, or would have given."""

    met: Counter[str] = field(default_factory=Counter)
    breached: Counter[str] = field(default_factory=Counter)
    open: Counter[str] = field(default_factory=Counter)

    def count(self, clock: SlaClock, at: datetime) -> None:
        state = clock.state_at(at)
        if state is ClockState.MET:
            self.met[clock.name.value] += 1
        elif state is ClockState.BREACHED:
            self.breached[clock.name.value] += 1
        else:
            self.open[clock.name.value] += 1

    def rate(self, clock: str) -> float | None:
        """The share met of the clocks decided (met or breached); None when none is."""
        decided = self.met[clock] + self.breached[clock]
        return None if decided == 0 else self.met[clock] / decided


@dataclass
class Comparison:
    """Actual and what-if compliance, for all cases and per group (channel, unit, priority)."""

    cases: int = 0
    actual: dict[tuple[str, str], Compliance] = field(default_factory=dict)
    what_if: dict[tuple[str, str], Compliance] = field(default_factory=dict)

    def add(self, case: Case, replayed: Case, at: datetime) -> None:
        self.cases += 1
        groups = [("all", "all"), *((name, _group_value(case, name)) for name in GROUPINGS)]
        for group in groups:
            for clock in case.clocks.values():
                self.actual.setdefault(group, Compliance()).count(clock, at)
            for clock in replayed.clocks.values():
                self.what_if.setdefault(group, Compliance()).count(clock, at)

    def rows(self) -> list[dict[str, object]]:
        """One row per group and clock: counts and rates, actual beside what-if."""
        rows: list[dict[str, object]] = []
        for group in sorted(set(self.actual) | set(self.what_if), key=_group_order):
            actual = self.actual.get(group, Compliance())
            what_if = self.what_if.get(group, Compliance())
            for clock in (name.value for name in ClockName):
                rows.append(
                    {
                        "group": group[0],
                        "value": group[1],
                        "clock": clock,
                        "actual_met": actual.met[clock],
                        "actual_breached": actual.breached[clock],
                        "actual_compliance": actual.rate(clock),
                        "what_if_met": what_if.met[clock],
                        "what_if_breached": what_if.breached[clock],
                        "what_if_compliance": what_if.rate(clock),
                    }
                )
        return rows


def replay_case(events: Sequence[Case.Event], policy: SlaPolicy) -> Case:
    """The case as its events left it, its clocks kept under `policy` instead."""
    first = events[0]
    assert isinstance(first, Case.Received), "a case's history starts with its receipt"
    case = first.mutate(None)
    assert isinstance(case, Case)
    case.keep_clocks(policy, _at(first.timestamp))
    for event in events[1:]:
        if type(event).__name__.startswith("Sla"):
            continue  # the clocks are what is being replayed
        event.apply(case)
        case.keep_clocks(policy, _at(event.timestamp))
    case.collect_events()  # nothing is saved
    return case


def compare(
    histories: Iterable[Sequence[Case.Event]], policy: SlaPolicy, at: datetime
) -> Comparison:
    """Actual against what-if compliance of the cases whose histories are given, as of `at`."""
    comparison = Comparison()
    for events in histories:
        actual = _as_recorded(events)
        comparison.add(actual, replay_case(events, policy), at)
    return comparison


def _as_recorded(events: Sequence[Case.Event]) -> Case:
    case = events[0].mutate(None)
    assert isinstance(case, Case)
    for event in events[1:]:
        event.mutate(case)
    return case


def _at(moment: datetime) -> Context:
    return Context(_REPLAY, moment, "sla-replay", "rule:sla-replay")


def _group_value(case: Case, name: str) -> str:
    value = getattr(case, name)
    return "—" if value is None else str(value)


def _group_order(group: tuple[str, str]) -> tuple[int, str]:
    kind, value = group
    return (0 if kind == "all" else 1 + GROUPINGS.index(kind), value)
