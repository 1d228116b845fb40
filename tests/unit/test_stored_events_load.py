"""Events stay readable for ever: what earlier versions of casemgmt stored still loads into cases.

`tests/fixtures/stored_events_v1.json` is a FROZEN RECORD of what version 1 of casemgmt stored: the
stored events (`originator_id`, `originator_version`, `topic`, and the `state` bytes as UTF-8 text)
of cases driven through every kind of event a case had then, snapshots of them, and what each case
looked like at each of its versions. Those bytes are in production databases and stay there.

Never regenerate that file, and never edit it. When a test here fails, the code changed what it can
read, not the record:

- An event's or the snapshot's shape changed (a field renamed, added without a default, its meaning
  changed): give the class a `class_version` and an `upcast_v1_v2` static method that turns the old
  state into the new one (eventsourcing runs it when loading), so the old events still load.
- A class or module holding events was renamed or moved: stored topics name it
  (`casemgmt.domain.case:Case.Replied`), so register the old topic with
  `eventsourcing.utils.register_topic(old_topic, new_class)` (or the old module path with the new
  module) before loading. Stored topics are never rewritten.
- A new kind of event: only ADD a record. Extend `tests/fixtures/make_stored_events.py` and write a
  new file with it (`python -m tests.fixtures.make_stored_events --output
  tests/fixtures/stored_events_v2.json`); every `stored_events_v*.json` is tested here.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import TopicError, resolve_topic

from casemgmt.application import CareCentre
from casemgmt.domain import Case

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RECORDS = sorted(FIXTURES.glob("stored_events_v*.json"))
IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

# eventsourcing's metaclass gives every aggregate a `Created` event class of its own; a case is
# created by `Received` (`Case.receive`), so `Case.Created` is never recorded.
NEVER_RECORDED = frozenset({"Created"})


class StoredRecord(TypedDict):
    """A stored event or snapshot as the recorder holds it; `state` is its bytes as UTF-8 text."""

    originator_id: str
    originator_version: int
    topic: str
    state: str


class VersionChange(TypedDict):
    version: int
    event: str  # the qualified name of the event class: "Case.Replied"
    changes: dict[str, Any]  # what `describe_case` says differently from the version before


class ExpectedCase(TypedDict):
    case_id: str
    about: str
    after_all_events: dict[str, Any]
    versions: list[VersionChange]


class Record(TypedDict):
    about: str
    written_with: dict[str, str]
    events: list[StoredRecord]
    snapshots: list[StoredRecord]
    expected: list[ExpectedCase]


# -- what a case looks like ---------------------------------------------------------------------


def describe_case(case: Case) -> dict[str, Any]:
    """The case's state in JSON-native values; an attribute of the wrong type fails here.

    Enums must be enum members, moments aware datetimes, ids UUIDs and value objects value objects
    (not the dicts or strings they are stored as), whichever way the case was loaded.
    """
    feedback = case.feedback
    return {
        "id": _uuid(case.id),
        "version": case.version,
        "reference": case.reference,
        "status": _member(case.status),
        "channel": _member(case.channel),
        "external_ref": case.external_ref,
        "subject": case.subject,
        "body": case.body,
        "requester": case.requester.as_dict(),
        "category": case.category.as_dict(),
        "priority": _member(case.priority),
        "unit": case.unit,
        "assignee": case.assignee,
        "escalation_level": case.escalation_level,
        "received_at": _moment(case.received_at),
        "created_on": _moment(case.created_on),
        "modified_on": _moment(case.modified_on),
        "first_replied_at": _optional_moment(case.first_replied_at),
        "resolved_at": _optional_moment(case.resolved_at),
        "closed_at": _optional_moment(case.closed_at),
        "resolution": case.resolution,
        "resolution_summary": case.resolution_summary,
        "merged_into": None if case.merged_into is None else _uuid(case.merged_into),
        "merged_from": [_uuid(merged) for merged in case.merged_from],
        "messages": [
            {
                "direction": _member(message.direction),
                "author": message.author,
                "text": message.text,
                "at": _moment(message.at),
            }
            for message in case.messages
        ],
        "notes": [
            {"author": note.author, "text": note.text, "at": _moment(note.at)}
            for note in case.notes
        ],
        "feedback": None
        if feedback is None
        else {"score": feedback.score, "comment": feedback.comment, "at": _moment(feedback.at)},
    }


def _member(value: Enum) -> str:
    if not isinstance(value, Enum):
        raise TypeError(f"{value!r} is not an enum member")
    return str(value.value)


def _moment(value: datetime) -> str:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise TypeError(f"{value!r} is not a datetime with a time zone")
    return value.isoformat()


def _optional_moment(value: datetime | None) -> str | None:
    return None if value is None else _moment(value)


def _uuid(value: UUID) -> str:
    if not isinstance(value, UUID):
        raise TypeError(f"{value!r} is not a UUID")
    return str(value)


# -- reading a record ---------------------------------------------------------------------------


def read_record(path: Path) -> Record:
    return cast("Record", json.loads(path.read_text(encoding="utf-8")))


def stored(record: StoredRecord) -> StoredEvent:
    """The stored event exactly as the recorder held it: the same id, version, topic and bytes."""
    return StoredEvent(
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        topic=record["topic"],
        state=record["state"].encode("utf-8"),
    )


def states_by_version(expected: ExpectedCase) -> dict[int, dict[str, Any]]:
    """What the case looked like at each version: the record's changes, added up in order."""
    states: dict[int, dict[str, Any]] = {}
    state: dict[str, Any] = {}
    for change in expected["versions"]:
        state = {**state, **change["changes"]}
        states[change["version"]] = state
    return states


@contextmanager
def store_holding(
    events: Iterable[StoredRecord], snapshots: Iterable[StoredRecord] = ()
) -> Iterator[CareCentre]:
    """A fresh in-memory CareCentre whose store holds these stored events and snapshots only."""
    with CareCentre(IN_MEMORY) as app:
        assert app.mapper.cipher is None, "an environment variable turned on encryption"
        assert app.mapper.compressor is None, "an environment variable turned on compression"
        assert app.snapshots is not None, "CareCentre no longer keeps snapshots"
        if stored_events := [stored(event) for event in events]:
            app.recorder.insert_events(stored_events)
        if stored_snapshots := [stored(snapshot) for snapshot in snapshots]:
            app.snapshots.recorder.insert_events(stored_snapshots)
        yield app


def load(app: CareCentre, case_id: UUID, version: int | None = None) -> dict[str, Any]:
    case: object = app.repository.get(case_id, version=version)
    assert isinstance(case, Case)
    return describe_case(case)


def record_param(path: Path) -> Any:
    return pytest.param(path, id=path.stem.removeprefix("stored_events_"))


def case_event_classes() -> list[type[Case.Event]]:
    """Every kind of event a case records: the event classes defined on `Case`."""
    return [
        value
        for name, value in vars(Case).items()
        if isinstance(value, type)
        and issubclass(value, Case.Event)
        and value is not Case.Event
        and name not in NEVER_RECORDED
    ]


def topics_in(record: Record) -> set[str]:
    """Every topic the record holds: of events and snapshots, and the aggregate's in their state."""
    topics = set()
    for event in record["events"]:
        topics.add(event["topic"])
        if "originator_topic" in (state := json.loads(event["state"])):
            topics.add(state["originator_topic"])  # a created event names the aggregate class
    for snapshot in record["snapshots"]:
        topics.add(snapshot["topic"])
        topics.add(json.loads(snapshot["state"])["topic"])  # a snapshot names the aggregate class
    return topics


# -- the tests ----------------------------------------------------------------------------------

pytestmark = pytest.mark.skipif(not RECORDS, reason=f"no stored_events_v*.json in {FIXTURES}")


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_every_topic_an_earlier_version_stored_still_names_a_class(path: Path) -> None:
    unresolved = []
    for topic in sorted(topics_in(read_record(path))):
        try:
            resolve_topic(topic)
        except TopicError as error:
            unresolved.append(f"{topic} ({error})")
    assert not unresolved, (
        f"{path.name} holds topics that name no class any more: {'; '.join(unresolved)}. "
        "A class or module was renamed or moved: register the old topic with "
        "eventsourcing.utils.register_topic(old_topic, new_class_or_module) where the "
        "application is built; stored topics are never rewritten."
    )


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_events_stored_by_an_earlier_version_load_into_cases(path: Path) -> None:
    record = read_record(path)
    with store_holding(record["events"]) as app:
        for expected in record["expected"]:
            case_id = UUID(expected["case_id"])
            assert load(app, case_id) == expected["after_all_events"], expected["about"]


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_a_case_loads_at_each_version_an_earlier_version_stored_as_it_stood_then(
    path: Path,
) -> None:
    record = read_record(path)
    with store_holding(record["events"]) as app:
        for expected in record["expected"]:
            case_id = UUID(expected["case_id"])
            states = states_by_version(expected)
            assert states[max(states)] == expected["after_all_events"]
            for version, state in states.items():
                assert load(app, case_id, version) == state, f"{expected['about']}, v{version}"


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_each_stored_event_loads_as_the_kind_of_event_it_was_stored_as(path: Path) -> None:
    record = read_record(path)
    with store_holding(record["events"]) as app:
        for expected in record["expected"]:
            events = list(app.events.get(UUID(expected["case_id"])))
            assert [(e.originator_version, type(e).__qualname__) for e in events] == [
                (change["version"], change["event"]) for change in expected["versions"]
            ]


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_each_stored_event_loads_with_every_field_its_kind_of_event_has_now(path: Path) -> None:
    """Projections read the fields of events: one an old event lacks fails them, not the case."""
    record = read_record(path)
    lacking: list[str] = []
    with store_holding(record["events"]) as app:
        for expected in record["expected"]:
            for event in app.events.get(UUID(expected["case_id"])):
                assert is_dataclass(event)
                names = [field.name for field in fields(event)]
                if missing := [name for name in names if name not in vars(event)]:
                    kind = type(event).__qualname__
                    lacking.append(f"{kind} v{event.originator_version} lacks {missing}")
    assert not lacking, (
        f"events in {path.name} load without fields their classes have now: "
        f"{'; '.join(lacking)}. Give the class a class_version and an upcast_v1_v2 that adds them."
    )


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_a_snapshot_an_earlier_version_stored_loads_without_the_events_before_it(
    path: Path,
) -> None:
    """Only the snapshot and the events after it are in the store: the case comes from both."""
    record = read_record(path)
    expected_cases = {UUID(expected["case_id"]): expected for expected in record["expected"]}
    assert record["snapshots"], f"{path.name} holds no snapshot"
    for snapshot in record["snapshots"]:
        case_id, taken_at = UUID(snapshot["originator_id"]), snapshot["originator_version"]
        expected = expected_cases[case_id]
        states = states_by_version(expected)
        later = [
            event
            for event in record["events"]
            if UUID(event["originator_id"]) == case_id and event["originator_version"] > taken_at
        ]
        events = [event for event in record["events"] if UUID(event["originator_id"]) == case_id]
        with store_holding(later, [snapshot]) as app, store_holding(events) as replay:
            about = f"{expected['about']}, from its snapshot at v{taken_at}"
            assert load(app, case_id) == expected["after_all_events"], about
            for version in range(taken_at, max(states) + 1):
                assert load(app, case_id, version) == states[version], f"{about}, v{version}"
                from_snapshot = vars(app.repository.get(case_id, version=version))
                from_events = vars(replay.repository.get(case_id, version=version))
                assert from_snapshot.keys() == from_events.keys(), (
                    f"{about}: the snapshot lacks or has extra attributes of a case "
                    f"({sorted(from_snapshot.keys() ^ from_events.keys())}). Give Case.Snapshot a "
                    "class_version and an upcaster, or drop the stored snapshots (they can be "
                    "taken again from the events)."
                )
                assert from_snapshot == from_events, f"{about}, v{version}"


@pytest.mark.parametrize("path", [record_param(path) for path in RECORDS])
def test_cases_load_alike_from_a_store_holding_their_snapshots_and_events(path: Path) -> None:
    record = read_record(path)
    with store_holding(record["events"], record["snapshots"]) as app:
        for expected in record["expected"]:
            case_id = UUID(expected["case_id"])
            assert load(app, case_id) == expected["after_all_events"], expected["about"]
            for version, state in states_by_version(expected).items():
                assert load(app, case_id, version) == state, f"{expected['about']}, v{version}"


def test_every_kind_of_event_of_a_case_is_in_a_frozen_record() -> None:
    records = [read_record(path) for path in RECORDS]
    recorded = {resolve_topic(event["topic"]) for record in records for event in record["events"]}
    missing = [cls.__qualname__ for cls in case_event_classes() if cls not in recorded]
    assert not missing, (
        f"{', '.join(missing)} is in no tests/fixtures/stored_events_v*.json, so nothing checks "
        "that what it stores stays readable. Extend tests/fixtures/make_stored_events.py to "
        "record it and regenerate into a NEW file: python -m tests.fixtures.make_stored_events "
        f"--output tests/fixtures/stored_events_v{len(RECORDS) + 1}.json "
        "(never overwrite an existing stored_events_v*.json)."
    )
    snapshot_classes = {
        resolve_topic(snapshot["topic"]) for record in records for snapshot in record["snapshots"]
    }
    assert Case.Snapshot in snapshot_classes, "no frozen record holds a snapshot of a case"
