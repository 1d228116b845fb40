"""The port through which new cases get their human-readable references."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


class ReferenceNumbers(ABC):
    """Issues the human-readable, unique references of new cases ("CC-2026-000001")."""

    @abstractmethod
    def next_reference(self, received_at: datetime) -> str:
        """A reference never issued before, for a case received at `received_at`."""

    def give_back(self, reference: str) -> None:
        """`reference` was issued but no case took it (the delivery had been seen before).

        References are unique, not gapless: unless a store reuses it, it is simply never seen.
        """
        del reference
