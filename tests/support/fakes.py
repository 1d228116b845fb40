"""Fakes of casemgmt's ports, for tests that run without servers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from casemgmt.application.references import ReferenceNumbers

if TYPE_CHECKING:
    from datetime import datetime


class CountingReferences(ReferenceNumbers):
    """References counted in memory, from 1 in each year of receipt: for tests and demos."""

    def __init__(self, prefix: str = "CC") -> None:
        self.prefix = prefix
        self._issued: dict[int, int] = {}
        self._lock = threading.Lock()

    def next_reference(self, received_at: datetime) -> str:
        with self._lock:
            number = self._issued.get(received_at.year, 0) + 1
            self._issued[received_at.year] = number
        return f"{self.prefix}-{received_at.year}-{number:06d}"

    def give_back(self, reference: str) -> None:
        """The last reference of its year, unused, is issued again."""
        _, year, number = reference.rsplit("-", 2)
        with self._lock:
            if self._issued.get(int(year)) == int(number):
                self._issued[int(year)] = int(number) - 1
