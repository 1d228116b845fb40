"""Many cases at once cost one round trip for their requesters' keys: saving many new cases in one
transaction (`casemgmt demo`), and reading a batch of the log (the projections)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING
from uuid import uuid4

from casemgmt.bootstrap import build
from casemgmt.domain import Actor, Channel, Context, Requester, RequesterKind, Role
from casemgmt.runtime import EventLog

if TYPE_CHECKING:
    from casemgmt.bootstrap import Container
    from casemgmt.domain import Case
    from casemgmt.settings import Settings

CASES = 20
SUBJECT = "Chưa nhận được sổ BHXH"


def new_cases(container: Container, count: int = CASES) -> list[Case]:
    """Cases of as many requesters the store has never seen, opened in memory, not saved."""
    ctx = Context(Actor("intake-batch", Role.INTAKE), datetime.now(UTC), "batch", "api")
    return [
        container.care_centre.draft_case(
            channel=Channel.EMAIL,
            external_ref=f"batch-{uuid4()}",
            subject=SUBJECT,
            requester=Requester(RequesterKind.CITIZEN, uuid4().hex, "Nguyễn Văn A"),
            ctx=ctx,
        )
        for _ in range(count)
    ]


def test_a_save_of_many_new_cases_looks_their_requesters_keys_up_at_once(
    container: Container,
) -> None:
    container.care_centre.save(*new_cases(container, 1))  # reads the store's secret for the hash
    cases = new_cases(container)
    round_trips = container.datastore.pool.round_trips
    before = round_trips.count()
    container.care_centre.save(*cases)
    assert round_trips.count() - before == 2  # the keys, then the events
    linked = container.datastore.execute(
        "SELECT count(*) FROM requester_key_cases WHERE case_id = ANY(%s::uuid[])",
        [[case.id for case in cases]],
    )
    assert linked[0][0] == CASES


def test_a_batch_of_the_log_reads_the_keys_its_cases_were_sealed_with_at_once(
    container: Container, app_settings: Settings
) -> None:
    after = container.projections.log.head()
    container.care_centre.save(*new_cases(container))
    cold = build(app_settings)  # a process that has no key in its cache yet
    try:
        round_trips = cold.datastore.pool.round_trips
        before = round_trips.count()
        batch = EventLog.of(cold.care_centre).read(after, 10 * CASES)
        count = round_trips.count() - before
    finally:
        cold.close()
    assert batch is not None
    assert count == 2  # the notifications, then the keys
    subjects = [getattr(event, "subject", None) for event in batch.events]
    assert subjects.count(SUBJECT) == CASES  # opened with the keys read
