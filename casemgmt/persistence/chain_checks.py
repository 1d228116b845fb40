"""The checks of the event store's hash chains, on links already read: no I/O here.

Given a case's stored events (with their links, its head and their seals) `check_case` says what is
wrong and where; `LogCheck` does the same for the notification log, one link at a time. Problems:

* `altered`: an event's bytes (or its link) are not what was linked or sealed;
* `missing`: versions of a case, or notifications of the log, are gone;
* `inserted`: an event the recorder did not write (no link, past the case's head, no seal);
* `reordered`: an event stands where it was not written (its link fits another place).

A chain recomputed by someone who edited the events is consistent again, so without the audit key
only edits that left the links alone are found; with it, the seals of recomputed links fail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from casemgmt.persistence.chain import GENESIS, Sealer, canonical, case_link, log_link

if TYPE_CHECKING:
    from collections.abc import Callable
    from uuid import UUID

# How far a misplaced event is looked for: every place in a case of up to this many events, and
# this many notifications either side in the log.
REORDER_SEARCH_EVENTS: Final = 200
REORDER_SEARCH_WINDOW: Final = 8


@dataclass(frozen=True)
class Problem:
    """What is wrong, and where: a case's version, a notification of the log, or both."""

    problem: str  # altered | missing | inserted | reordered
    detail: str
    case_id: UUID | None = None
    version: int | None = None
    notification_id: int | None = None


@dataclass(frozen=True)
class CaseVerdict:
    """One case's chain: how many events it has and what is wrong with them."""

    case_id: UUID
    events: int
    problems: list[Problem]
    unsealed: int = 0  # events written before sealing began, chained but not sealed

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Link:
    """A stored event as the chains see it."""

    originator_id: UUID
    version: int
    topic: str
    state: bytes
    notification_id: int
    case_hash: bytes | None
    log_hash: bytes | None
    case_seal: bytes | None
    log_seal: bytes | None

    def event(self, version: int | None = None) -> bytes:
        """Canonical bytes, as written at its version (or at another)."""
        at = self.version if version is None else version
        return canonical(self.originator_id, at, self.topic, self.state)


@dataclass(frozen=True)
class Sealing:
    """The key to check seals with, and the first notification that was sealed (None: none)."""

    sealer: Sealer
    since: int | None

    def expects(self, link: Link) -> bool:
        return self.since is not None and link.notification_id >= self.since


def check_case(
    case_id: UUID,
    links: list[Link],
    head: tuple[int, bytes] | None,
    sealing: Sealing | None,
) -> CaseVerdict:
    """A case's events (in version order) against their links, the case's head and the seals."""

    def problem_at(link: Link, problem: str, detail: str) -> Problem:
        return Problem(problem, detail, case_id, link.version)

    chained, problems = _recorded(links, head, problem_at)
    problems += _walk(chained, problem_at)
    if head is not None:
        problems += _against_head(case_id, chained, head)
    unsealed = 0
    if sealing is not None:
        unsealed = sum(1 for link in chained if not sealing.expects(link))
        seals = SealWatch(sealing, lambda link: link.case_seal, Sealer.case_seal, problem_at)
        for link in chained:
            problems += seals.check(link, link.case_hash)
        problems += seals.end(lambda _: False)
    problems.sort(key=lambda problem: problem.version or 0)
    return CaseVerdict(case_id, len(links), problems, unsealed)


def _recorded(
    links: list[Link],
    head: tuple[int, bytes] | None,
    problem_at: Callable[[Link, str, str], Problem],
) -> tuple[list[Link], list[Problem]]:
    """The links the recorder wrote, and the events it cannot have written (inserted)."""
    chained, problems = [], []
    for link in links:
        if head is None:
            detail = "the case has no head: the recorder never wrote it"
        elif link.version > head[0]:
            detail = f"past the case's head, version {head[0]}"
        elif link.case_hash is None:
            detail = _UNLINKED
        else:
            chained.append(link)
            continue
        problems.append(problem_at(link, "inserted", detail))
    return chained, problems


def _walk(chained: list[Link], problem_at: Callable[[Link, str, str], Problem]) -> list[Problem]:
    """Each link made again from its event and the link before it: gaps, edits, moves."""
    problems = []
    moved: list[Link] = []
    previous, expected = GENESIS, 1
    for link in chained:
        assert link.case_hash is not None
        if link.version > expected:
            gone = _versions_gone(expected, link.version - 1)
            problems.append(replace(problem_at(link, "missing", gone), version=expected))
        elif case_link(link.event(), previous) != link.case_hash and not _follows(link, moved):
            problem, detail = _misplaced(link, chained) or ("altered", _ALTERED)
            problems.append(problem_at(link, problem, detail))
            if problem == "reordered":
                moved.append(link)
        previous, expected = link.case_hash, link.version + 1
    return problems


def _against_head(case_id: UUID, chained: list[Link], head: tuple[int, bytes]) -> list[Problem]:
    """The case's head names its last version and link: later versions gone, or a changed last."""
    version, case_hash = head
    last = chained[-1] if chained else None
    expected = 1 if last is None else last.version + 1
    if version >= expected:
        gone = _versions_gone(expected, version, head=True)
        return [Problem("missing", gone, case_id, expected)]
    if last is not None and last.version == version and last.case_hash != case_hash:
        detail = "its link is not the one the case's head recorded"
        return [Problem("altered", detail, case_id, version)]
    return []


_ALTERED: Final = "its stored bytes are not those its link was made of"
_UNLINKED: Final = "it has no link: the recorder did not write it"
_SLIPPED: Final = "the notification after it was linked to the one before it"


def _follows(link: Link, moved: list[Link]) -> bool:
    """The event is intact and in place, linked after one of the events found moved."""
    event = link.event()
    return any(
        case_link(event, other.case_hash) == link.case_hash
        for other in moved
        if other.case_hash is not None
    )


def _versions_gone(first: int, last: int, *, head: bool = False) -> str:
    which = f"version {first} is" if first == last else f"versions {first}–{last} are"
    where = " (the case's head records the last)" if head else ""
    return f"{which} gone{where}"


def _misplaced(link: Link, chained: list[Link]) -> tuple[str, str] | None:
    """('reordered', where it was written) when the event's link fits another place of its case."""
    if len(chained) > REORDER_SEARCH_EVENTS:
        return None
    stored = {other.version: other.case_hash for other in chained}
    previous_hashes = [GENESIS, *(h for h in stored.values() if h is not None)]
    for other in chained:
        if other.version == link.version:
            continue
        moved = link.event(other.version)
        # Its own link made at the other version, or the other place's link made of its bytes.
        before_other = GENESIS if other.version == 1 else stored.get(other.version - 1)
        if (before_other is not None and case_link(moved, before_other) == other.case_hash) or any(
            case_link(moved, previous) == link.case_hash for previous in previous_hashes
        ):
            return "reordered", f"it was written as version {other.version}"
    return None


class SealWatch:
    """Checks seals as links go by: an unsealed link at once, the first broken seal at the end.

    After an edit and a recomputed chain, every seal from the edit on fails; the first one says
    where, the count says how far the recomputation reached. Links written before sealing began
    are not expected to carry a seal.
    """

    def __init__(
        self,
        sealing: Sealing,
        seal_of: Callable[[Link], bytes | None],
        seal: Callable[[Sealer, bytes], bytes],
        problem_at: Callable[[Link, str, str], Problem],
    ) -> None:
        self.sealing = sealing
        self.seal_of = seal_of
        self.seal = seal
        self.problem_at = problem_at
        self.first_broken: Link | None = None
        self.broken = 0

    def check(self, link: Link, link_hash: bytes | None) -> list[Problem]:
        if not self.sealing.expects(link) or link_hash is None:
            return []
        seal = self.seal_of(link)
        if seal is None:
            detail = "it is not sealed: written without the key"
            return [self.problem_at(link, "inserted", detail)]
        if not Sealer.matches(seal, self.seal(self.sealing.sealer, link_hash)):
            self.broken += 1
            self.first_broken = self.first_broken or link
        return []

    def end(self, content_intact: Callable[[Link], bool]) -> list[Problem]:
        first = self.first_broken
        if first is None:
            return []
        if content_intact(first):
            detail = "an event before it was removed and the chain recomputed: its seal fails"
            return [self.problem_at(first, "missing", detail)]
        detail = "its link does not match its seal: the chain was recomputed after an edit"
        if self.broken > 1:
            detail += f" ({self.broken - 1} later seals fail with it)"
        return [self.problem_at(first, "altered", detail)]


class LogCheck:
    """Walks the notification log in order, one link at a time, with a few links of lookahead.

    `content_intact(link)` says whether an event's own bytes still make its case link: a log link
    that breaks before an intact event means that something before it is gone. `inserted`: events
    (case, version) the case chains found the recorder did not write, left out of the log's chain
    as the recorder left them out. `anchors`: log hashes by notification id, kept outside.
    """

    def __init__(
        self,
        sealing: Sealing | None,
        content_intact: Callable[[Link], bool],
        *,
        inserted: set[tuple[UUID, int]] | None = None,
        anchors: dict[int, bytes] | None = None,
    ) -> None:
        self.content_intact = content_intact
        self.inserted = inserted or set()
        self.anchors = anchors or {}
        self.anchored: dict[int, bytes | None] = {}
        self.window: deque[Link] = deque()
        self.behind: deque[Link] = deque(maxlen=REORDER_SEARCH_WINDOW)
        self.previous = GENESIS
        self.previous_id: int | None = None
        self.last: Link | None = None  # the link `previous` is, and the one before it
        self.before_last: bytes | None = None
        self.last_planted = False
        self.moved: set[int] = set()  # notifications found reordered
        self.seals = None
        if sealing is not None:
            log_seal = Sealer.log_seal
            self.seals = SealWatch(sealing, lambda link: link.log_seal, log_seal, _log_problem)

    def feed(self, link: Link) -> list[Problem]:
        self.window.append(link)
        if len(self.window) <= REORDER_SEARCH_WINDOW:
            return []
        return self._step()

    def end(self, last: int | None = None) -> list[Problem]:
        """What the last links (and the seals, and the anchors) show; `last`: the log's end."""
        problems = []
        while self.window:
            problems += self._step()
        if self.seals is not None:
            problems += self.seals.end(self.content_intact)
        return problems + self._against_anchors(last)

    def _against_anchors(self, last: int | None) -> list[Problem]:
        """Anchors kept outside the system: the log must still hold each, with the same hash."""
        problems = []
        for notification_id, log_hash in sorted(self.anchors.items()):
            if notification_id not in self.anchored:
                where = "the log ends before it" if (last or 0) < notification_id else "it is gone"
                detail = f"the anchored notification {notification_id} is missing: {where}"
                problems.append(Problem("missing", detail, notification_id=notification_id))
            elif self.anchored[notification_id] != log_hash:
                detail = "the log up to here is not what was anchored"
                problems.append(Problem("altered", detail, notification_id=notification_id))
        return problems

    def _step(self) -> list[Problem]:
        link = self.window.popleft()
        if link.notification_id in self.anchors:
            self.anchored[link.notification_id] = link.log_hash
        # An event its case's chain found the recorder did not write was reported there; it is
        # part of the log's chain only if later writes were linked after it.
        planted = (link.originator_id, link.version) in self.inserted
        if link.log_hash is None:
            return [] if planted else [_log_problem(link, "inserted", _UNLINKED)]
        if log_link(link.notification_id, link.event(), self.previous) == link.log_hash:
            return self._chained(link, [], planted=planted)
        return self._broken(link, planted=planted)

    def _broken(self, link: Link, *, planted: bool) -> list[Problem]:
        """Why a link does not follow the one before it, judged by its neighbours and its case."""
        event = link.event()
        last = self.last
        if (
            last is not None
            and last.notification_id not in self.moved
            and self.before_last is not None
            and log_link(link.notification_id, event, self.before_last) == link.log_hash
        ):
            # Linked after the one before the last: the last was slipped in between (or two
            # writers linked after the same head).
            found = [] if self.last_planted else [_log_problem(last, "inserted", _SLIPPED)]
            return self._chained(link, found, planted=planted)
        moved = [n.log_hash for n in self.behind if n.notification_id in self.moved]
        moved += [n.log_hash for n in self.window]
        if any(log_link(link.notification_id, event, h) == link.log_hash for h in moved if h):
            return self._chained(link, [])  # in place, after a neighbour that was moved
        slipped_in = self._followed_as_if_absent(link)
        if planted:  # reported by its case's chain
            return [] if slipped_in else self._chained(link, [], planted=planted)
        return self._judged(link, slipped_in=slipped_in)

    def _judged(self, link: Link, *, slipped_in: bool) -> list[Problem]:
        """A link that breaks the chain where it stands: moved, slipped in, after a gap, altered."""
        written_at = self._written_at(link)
        if written_at is not None:
            self.moved.add(link.notification_id)
            detail = f"it was written as notification {written_at}"
            return self._chained(link, [_log_problem(link, "reordered", detail)])
        if slipped_in:
            return [_log_problem(link, "inserted", _SLIPPED)]
        if self.content_intact(link):
            since = "" if self.previous_id is None else f"after {self.previous_id} and "
            detail = f"notifications {since}before it were removed: its link does not follow"
            return self._chained(link, [_log_problem(link, "missing", detail)])
        return self._chained(link, [_log_problem(link, "altered", _ALTERED)])

    def _followed_as_if_absent(self, link: Link) -> bool:
        """The notification after it is linked to the one before it."""
        after = self.window[0] if self.window else None
        return (
            after is not None
            and after.log_hash is not None
            and log_link(after.notification_id, after.event(), self.previous) == after.log_hash
        )

    def _chained(
        self, link: Link, problems: list[Problem], *, planted: bool = False
    ) -> list[Problem]:
        assert link.log_hash is not None
        if self.seals is not None and not planted:
            problems = problems + self.seals.check(link, link.log_hash)
        self.behind.append(link)
        self.before_last, self.previous = self.previous, link.log_hash
        self.last, self.last_planted, self.previous_id = link, planted, link.notification_id
        return problems

    def _written_at(self, link: Link) -> int | None:
        """The notification id the link was made at, when it is one of the neighbours'."""
        near = [*self.behind, *self.window]
        previous_hashes = [GENESIS, *(n.log_hash for n in near if n.log_hash is not None)]
        event = link.event()
        for other in near:
            for previous in previous_hashes:
                if log_link(other.notification_id, event, previous) == link.log_hash:
                    return other.notification_id
        return None


def _log_problem(link: Link, problem: str, detail: str) -> Problem:
    return Problem(problem, detail, link.originator_id, link.version, link.notification_id)


__all__ = [
    "CaseVerdict",
    "Link",
    "LogCheck",
    "Problem",
    "SealWatch",
    "Sealing",
    "check_case",
]
