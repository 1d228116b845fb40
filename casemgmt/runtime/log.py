"""The care centre's notification log, read in order and in batches of decoded case events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from casemgmt.domain import Case
from casemgmt.persistence.recorders import PostgresApplicationRecorder
from casemgmt.persistence.shredding import ShreddingMapper

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from eventsourcing.domain import DomainEventProtocol
    from eventsourcing.persistence import Mapper, Notification

    from casemgmt.application import CareCentre


@dataclass(frozen=True)
class Batch:
    """Consecutive notifications of the log: what a projection writes in one transaction.

    `after` is the position the projection must be at to take the batch (None: nothing processed
    yet), `last_id` its position once the batch is written, ignored events included.
    `notification_ids` are the events' own, in the same order.
    """

    after: int | None
    last_id: int
    events: list[Case.Event]
    size: int
    notification_ids: list[int]


class EventLog:
    """Reads the notification log of `CareCentre` (table `carecentre_events`)."""

    def __init__(self, recorder: PostgresApplicationRecorder, mapper: Mapper[UUID]) -> None:
        self.recorder = recorder
        self.mapper = mapper

    @classmethod
    def of(cls, care_centre: CareCentre) -> EventLog:
        recorder = care_centre.recorder
        if not isinstance(recorder, PostgresApplicationRecorder):
            msg = f"projections follow a PostgreSQL event store, not {type(recorder).__name__}"
            raise TypeError(msg)
        return cls(recorder, care_centre.mapper)

    @property
    def database_url(self) -> str:
        return self.recorder.datastore.pool.dsn

    @property
    def channel(self) -> str:
        """The NOTIFY channel every write to the log signals on."""
        return self.recorder.channel_name

    def read(self, after: int | None, limit: int) -> Batch | None:
        """Up to `limit` notifications after position `after`, or None when there are none."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, inclusive_of_start=False
        )
        if not notifications:
            return None
        events, ids = [], []
        for notification, event in zip(notifications, self._decoded(notifications), strict=True):
            if isinstance(event, Case.Event):
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
