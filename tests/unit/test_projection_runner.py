"""The projection runner's loop: housekeeping keeps its pace while a long backlog is caught up."""

from __future__ import annotations

import time
from typing import Any

from casemgmt.runtime.log import Batch
from casemgmt.runtime.runner import ProjectionRunner

BATCH = 10


class EndlessBacklog:
    """A log that always has a full batch more, for `batches` reads."""

    def __init__(self, runner: list[ProjectionRunner[Any]], batches: int) -> None:
        self.runner = runner
        self.batches = batches
        self.reads = 0

    def read(self, after: int | None, limit: int) -> Batch[Any] | None:
        self.reads += 1
        if self.reads >= self.batches:
            self.runner[0].stopping.set()
        start = after or 0
        return Batch(after, start + limit, [], limit, [])


class Counting:
    """A projection that writes nothing and counts its housekeeping."""

    name = "counting"
    lock_name = "counting"

    def __init__(self, runner: list[ProjectionRunner[Any]]) -> None:
        self.runner = runner
        self.housekeeping = 0

    def resume(self) -> int:
        return 0

    def position(self) -> int | None:
        return self.runner[0].position

    def write(self, batch: Batch[Any]) -> None:
        pass  # the batches are empty: nothing to write

    def on_idle(self) -> None:
        self.housekeeping += 1


class Lock:
    def check(self) -> None:
        """Always held."""

    def wait_for_news(self, seconds: float, *, wake: int) -> None:
        raise AssertionError("a runner catching up does not wait for news")


def test_housekeeping_runs_while_a_backlog_is_caught_up() -> None:
    """A claim whose claimer died goes back in line by housekeeping (`on_idle`): a worker that
    catches up a long backlog must not put that off until it is done."""
    holder: list[ProjectionRunner[Any]] = []
    projection = Counting(holder)
    log = EndlessBacklog(holder, batches=5)
    runner = ProjectionRunner(projection, log, batch_size=BATCH, housekeeping_seconds=0)  # type: ignore[arg-type]
    holder.append(runner)

    runner._follow(Lock())  # type: ignore[arg-type]

    assert log.reads == 5
    assert runner.position == 5 * BATCH
    assert projection.housekeeping == 5


class QuietLog:
    """A log with nothing new, which notes when it was read."""

    def __init__(self) -> None:
        self.read_at: list[float] = []

    def read(self, after: int | None, limit: int) -> Batch[Any] | None:
        self.read_at.append(time.monotonic())
        return None


class NewsOnce:
    """A lock whose first wait brings news (at `news_at`); the next one stops the runner."""

    def __init__(self, runner: list[ProjectionRunner[Any]], *, stop_at_news: bool = False) -> None:
        self.runner = runner
        self.stop_at_news = stop_at_news
        self.news_at: float | None = None

    def check(self) -> None:
        """Always held."""

    def wait_for_news(self, seconds: float, *, wake: int) -> bool:
        if self.news_at is None:
            self.news_at = time.monotonic()
            if self.stop_at_news:
                self.runner[0].stopping.set()
            return True
        self.runner[0].stopping.set()
        return False


def _quiet_runner(settle_seconds: float) -> tuple[ProjectionRunner[Any], QuietLog]:
    holder: list[ProjectionRunner[Any]] = []
    log = QuietLog()
    runner = ProjectionRunner(
        Counting(holder),  # type: ignore[arg-type]
        log,  # type: ignore[arg-type]
        batch_size=BATCH,
        housekeeping_seconds=60,
        settle_seconds=settle_seconds,
    )
    holder.append(runner)
    return runner, log


def test_news_is_read_once_the_writes_right_after_it_can_join_it() -> None:
    """Woken by a write, a runner waits `settle_seconds` before reading, so that a busy log is
    projected in batches, not one read and one write per event."""
    runner, log = _quiet_runner(settle_seconds=0.05)
    lock = NewsOnce([runner])

    runner._follow(lock)  # type: ignore[arg-type]

    assert lock.news_at is not None
    assert len(log.read_at) == 2  # before the news, and once after it
    assert log.read_at[1] - lock.news_at >= 0.05


def test_a_stop_ends_the_wait_for_more_writes_at_once() -> None:
    runner, log = _quiet_runner(settle_seconds=30)
    lock = NewsOnce([runner], stop_at_news=True)
    started = time.monotonic()

    runner._follow(lock)  # type: ignore[arg-type]

    assert time.monotonic() - started < 5
    assert len(log.read_at) == 1
