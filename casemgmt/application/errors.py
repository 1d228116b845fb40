"""What the application refuses, as errors the API and the command line turn into answers.

404 (`CaseNotFound`, `QueueNotFound`), 403 (`Forbidden`), 409 (`ConcurrentUpdate`, and the
domain's `ActionNotAllowed`), 412 (`StaleVersion`) and 422 (the domain's `InvalidCommand`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from uuid import UUID

    from casemgmt.domain import Case


class CaseNotFound(LookupError):  # noqa: N818 -- names read as what happened
    """No case has this id (or it did not exist yet at the moment or version asked for)."""

    def __init__(self, case_id: UUID | None, detail: str | None = None) -> None:
        """`case_id` is None when the case was named otherwise (by its reference)."""
        super().__init__(detail or f"case {case_id} not found")
        self.case_id = case_id


class StaleVersion(Exception):  # noqa: N818
    """The command expected another version of the case than the current one (`If-Match`)."""

    def __init__(self, case_id: UUID, expected: int, actual: int) -> None:
        super().__init__(f"case {case_id} is at version {actual}, not {expected}")
        self.case_id = case_id
        self.expected = expected
        self.actual = actual


class ConcurrentUpdate(Exception):  # noqa: N818
    """Another command changed the case between loading and saving it; this one was not saved.

    `current` is the case as the winner left it, for the caller to decide what to do next.
    """

    def __init__(self, case_id: UUID, current: Case | None = None) -> None:
        message = f"case {case_id} was changed by another command at the same time"
        super().__init__(message)
        self.case_id = case_id
        self.current = current


class QueueNotFound(LookupError):  # noqa: N818
    """No work queue has this name; the message names the queues there are."""

    def __init__(self, name: str, names: Iterable[str]) -> None:
        super().__init__(f"no queue is named {name!r}; there are: {', '.join(names) or 'none'}")
        self.name = name


class IntakeConflict(Exception):  # noqa: N818
    """A channel sent an `external_ref` again with other content: not a repeat delivery but a
    mistake of the channel's (409). Nothing is saved, and the other citizen's case is not shown."""

    def __init__(self, channel: str, external_ref: str, reference: str, fields: list[str]) -> None:
        super().__init__(
            f"{channel} message {external_ref!r} was already received as case {reference} "
            f"with another {', '.join(fields)}; send a new external_ref for a new message"
        )
        self.fields = fields
