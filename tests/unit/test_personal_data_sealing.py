"""The cipher layer of crypto-shredding (casemgmt/persistence/shredding.py), on a fake key store:
personal fields are sealed when stored, opened when read, and read as erased without their key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    MapperDeserialisationError,
    StoredEvent,
    UUIDAsHex,
)

from casemgmt.domain import Actor, Case, Channel, Context, Requester, RequesterKind, Role
from casemgmt.domain.requests import ERASED
from casemgmt.persistence.shredding import SEALED, RequesterKeys, ShreddingMapper

if TYPE_CHECKING:
    from uuid import UUID

    from casemgmt.persistence.datastore import Datastore

CITIZEN = Requester(RequesterKind.CITIZEN, "0123456789", "Nguyễn Văn A", "a@example.vn")


class FakeKeys(RequesterKeys):
    """Keys in a dict instead of `requester_keys`."""

    def __init__(self) -> None:
        super().__init__(cast("Datastore", None))  # never asked: every look-up is overridden
        self.keys: dict[UUID, bytes | None] = {}
        self.by_requester: dict[str, UUID] = {}

    def material(self, key_id: UUID) -> bytes | None:
        return self.keys.get(key_id)

    def for_requester(self, requester_id: str) -> tuple[UUID, bytes]:
        if requester_id not in self.by_requester:
            self.by_requester[requester_id] = self.for_one_case()
        key_id = self.by_requester[requester_id]
        material = self.keys[key_id]
        assert material is not None
        return key_id, material

    def sealing(self, case_id: UUID, key_id: UUID, new_key: bytes | None) -> None:
        super().sealing(case_id, key_id, new_key)
        if new_key is not None:
            self.keys[key_id] = new_key

    def for_one_case(self) -> UUID:
        key_id = uuid.uuid4()
        self.keys[key_id] = bytes(range(32))
        return key_id

    def link(self, key_id: UUID, case_id: UUID) -> bool:
        return self.keys.get(key_id) is not None

    def destroy_all(self) -> None:
        self.keys = dict.fromkeys(self.keys)


def mapper(keys: FakeKeys) -> ShreddingMapper:
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(DatetimeAsISO())
    return ShreddingMapper(transcoder, keys=keys, events_table="unused")


def ctx(actor: Actor) -> Context:
    return Context(actor, datetime(2026, 3, 2, 8, tzinfo=UTC), "c-1", "api")


def a_case() -> Case:
    case = Case.receive(
        id=uuid.uuid4(),
        reference="CC-2026-000001",
        channel=Channel.EMAIL,
        subject="Sổ BHXH của Nguyễn Văn A",
        body="Liên hệ a@example.vn",
        requester=CITIZEN,
        ctx=ctx(Actor("mail", Role.INTAKE)),
    )
    case.citizen_message("Tôi là Nguyễn Văn A", ctx(Actor("mail", Role.INTAKE)))
    return case


def stored_text(stored: StoredEvent) -> str:
    return stored.state.decode()


def test_personal_fields_are_stored_sealed_and_read_back_in_clear() -> None:
    keys = FakeKeys()
    sealing = mapper(keys)
    case = a_case()
    stored = [sealing.to_stored_event(event) for event in case.collect_events()]

    for event in stored:
        text = stored_text(event)
        assert "Nguyễn Văn A" not in text and "0123456789" not in text
        assert "a@example.vn" not in text
        assert SEALED in json.loads(text)
    received = sealing.to_domain_event(stored[0])
    assert received.requester == CITIZEN.as_dict()  # type: ignore[attr-defined]
    assert received.subject == "Sổ BHXH của Nguyễn Văn A"  # type: ignore[attr-defined]
    assert sealing.to_domain_event(stored[1]).message == "Tôi là Nguyễn Văn A"  # type: ignore[attr-defined]


def test_without_its_key_an_event_reads_as_erased() -> None:
    keys = FakeKeys()
    sealing = mapper(keys)
    stored = [sealing.to_stored_event(event) for event in a_case().collect_events()]
    keys.destroy_all()

    received: Any = sealing.to_domain_event(stored[0])
    assert received.requester == {"kind": "citizen", "id": None, "name": ERASED, "contact": None}
    assert (received.subject, received.body) == (ERASED, ERASED)
    assert SEALED not in vars(received)
    assert sealing.to_domain_event(stored[1]).message == ERASED  # type: ignore[attr-defined]


def test_a_snapshot_is_sealed_too_and_reads_as_erased_without_its_key() -> None:
    keys = FakeKeys()
    sealing = mapper(keys)
    case = a_case()
    sealing.to_stored_event(case.collect_events()[0])  # the case's key, as its Received chose
    stored = sealing.to_stored_event(Case.Snapshot.take(case))
    assert "Nguyễn Văn A" not in stored_text(stored)
    restored = sealing.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert restored.requester == CITIZEN
    keys.destroy_all()
    erased = sealing.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]
    assert erased.requester == CITIZEN.erased()
    assert [m.text for m in erased.messages] == [ERASED]


def test_events_stored_before_sealing_read_as_they_were_stored() -> None:
    plain = ShreddingMapper(mapper(FakeKeys()).transcoder, keys=FakeKeys(), events_table="unused")
    event = a_case().collect_events()[0]
    state = {
        k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")
    }
    stored = StoredEvent(
        originator_id=event.originator_id,
        originator_version=1,
        topic="casemgmt.domain.case:Case.Received",
        state=plain.transcoder.encode(state),
    )
    assert plain.to_domain_event(stored).requester == CITIZEN.as_dict()  # type: ignore[attr-defined]


def test_a_sealed_blob_moved_to_another_case_does_not_open() -> None:
    sealing = mapper(FakeKeys())
    stored = sealing.to_stored_event(a_case().collect_events()[0])
    moved = StoredEvent(uuid.uuid4(), 1, stored.topic, stored.state)
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        sealing.to_domain_event(moved)
