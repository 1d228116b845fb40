"""Case references numbered by a PostgreSQL sequence: unique across processes and restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casemgmt.application.references import ReferenceNumbers

if TYPE_CHECKING:
    from datetime import datetime

    from casemgmt.persistence.datastore import Datastore


class SequenceReferences(ReferenceNumbers):
    """References such as "CC-2026-000001", numbered by `case_reference_seq`."""

    def __init__(self, datastore: Datastore, prefix: str = "CC") -> None:
        self.datastore = datastore
        self.prefix = prefix

    def next_reference(self, received_at: datetime) -> str:
        number = self.datastore.execute("SELECT nextval('case_reference_seq')")[0][0]
        return f"{self.prefix}-{received_at.year}-{number:06d}"
