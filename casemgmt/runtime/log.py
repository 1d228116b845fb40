"""A notification log read in order and in batches of decoded events: the care centre's (its
case events), or the active-care sessions' (their session events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic

from casemgmt.domain import Case
from casemgmt.domain.sessions import CareSession
from casemgmt.persistence.recorders import PostgresApplicationRecorder
from casemgmt.persistence.shredding import ShreddingMapper
from casemgmt.projections.base import EventT

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from eventsourcing.application import Application
    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import Mapper, Notification

    from casemgmt.application import CareCentre
    from casemgmt.application.sessions import CareSessions


@dataclass(frozen=True)
class Batch(Generic[EventT]):
    """Consecutive notifications of the log: what a projection writes in one transaction.

    `after` is the position the projection must be at to take the batch (None: nothing processed
    yet), `last_id` its position once the batch is written, ignored events included.
    `notification_ids` are the events' own, in the same order.
    """

    after: int | None
    last_id: int
    events: list[EventT]
    size: int
    notification_ids: list[int]


class EventLog(Generic[EventT]):
    """Reads the notification log of an application: `CareCentre`'s (table `carecentre_events`)
    or `CareSessions`' (`caresessions_events`). Its batches hold the events of type `kind`; the
    others (an aggregate of another kind saved in the same log) only move the position."""

    def __init__(
        self, recorder: PostgresApplicationRecorder, mapper: Mapper[UUID], kind: type[EventT]
    ) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.kind = kind

    @staticmethod
    def of(care_centre: CareCentre) -> EventLog[Case.Event]:
        """The care centre's log of case events."""
        return EventLog(_recorder_of(care_centre), care_centre.mapper, Case.Event)

    @staticmethod
    def of_sessions(care_sessions: CareSessions) -> EventLog[CareSession.Event]:
        """The active-care sessions' own log (migration 0013)."""
        return EventLog(_recorder_of(care_sessions), care_sessions.mapper, CareSession.Event)

    @property
    def database_url(self) -> str:
        return self.recorder.datastore.pool.dsn

    @property
    def channel(self) -> str:
        """The NOTIFY channel every write to the log signals on."""
        return self.recorder.channel_name

    def read(self, after: int | None, limit: int) -> Batch[EventT] | None:
        """Up to `limit` notifications after position `after`, or None when there are none."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        if not notifications:
            return None
        events: list[EventT] = []
        ids: list[int] = []
        for notification, event in zip(notifications, self._decoded(notifications), strict=True):
            if isinstance(event, self.kind):
                events.append(event)
                ids.append(notification.id)
        return Batch(after, notifications[-1].id, events, len(notifications), ids)

    def _decoded(self, notifications: Sequence[Notification]) -> list[DomainEventProtocol[UUID]]:
        """The notifications' events; with casemgmt's mapper, their keys read at once."""
        if isinstance(self.mapper, ShreddingMapper):
            return self.mapper.to_domain_events(notifications)
        return [self.mapper.to_domain_event(notification) for notification in notifications]

    def head(self) -> int:
        """The id of the latest notification (0 when the log is empty)."""
        return self.recorder.max_notification_id() or 0

    def count(self, up_to: int | None = None) -> int:
        """How many notifications there are (up to and including `up_to`)."""
        return self.recorder.count_notifications(up_to)


def _recorder_of(application: Application[UUID]) -> PostgresApplicationRecorder:
    recorder = application.recorder
    if not isinstance(recorder, PostgresApplicationRecorder):
        msg = f"projections follow a PostgreSQL event store, not {type(recorder).__name__}"
        raise TypeError(msg)
    return recorder
