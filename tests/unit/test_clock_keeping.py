"""The clocks' changes worked out without the case (`sla apply` from the case list) are the
events the case itself records, and the clocks' stored form in the list reads back as it was."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import timedelta
from typing import Any

from casemgmt.domain import Actor, Case, Context, Role
from casemgmt.domain.calendar import BusinessCalendar
from casemgmt.domain.clock_keeping import clock_steps
from casemgmt.domain.sla import clock_as_json, clock_from_json
from casemgmt.policy_file import load_policy
from tests.unit.test_case_events import LIFE
from tests.unit.test_case_transitions import T0, new_case

TIMER = Actor("sla-timer", Role.SYSTEM)
POLICY = load_policy(None)
ALWAYS_OPEN = BusinessCalendar(always_open=True)


def facts(events: list[Any]) -> list[tuple[object, ...]]:
    return [(type(event), vars(event)) for event in events]


def test_the_events_made_from_the_steps_are_those_keep_clocks_records_at_every_stage() -> None:
    case = new_case()
    case.keep_clocks(POLICY, Context(TIMER, T0, "start", "api"))
    changed = 0
    for minute, (actor, cause, command) in enumerate(LIFE, start=1):
        command(case, Context(actor, T0 + timedelta(minutes=minute), f"req-{minute}", cause))
        # Some hours later, under a policy whose calendar is open around the clock: every clock
        # still running moves.
        later = Context(TIMER, T0 + timedelta(hours=minute), f"apply-{minute}", "rule:sla-apply")
        other = replace(POLICY, calendars={**POLICY.calendars, "office": ALWAYS_OPEN})
        recorded = copy.deepcopy(case)
        recorded.collect_events()
        recorded.keep_clocks(other, later)
        steps = clock_steps(case._clock_subject(), case.clocks, other, later.at)
        made = Case.clock_events(case.id, case.version, case.status, steps, later)

        assert facts(made) == facts(list(recorded.pending_events))
        changed += bool(made)
    assert changed >= 5


def test_a_clock_reads_back_from_its_stored_form() -> None:
    case = new_case()
    case.keep_clocks(POLICY, Context(TIMER, T0, "start", "api"))
    assert case.clocks
    for clock in case.clocks.values():
        assert clock_from_json(clock_as_json(clock)) == clock
