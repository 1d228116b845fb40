"""The projection runner's loop: housekeeping keeps its pace while a long backlog is caught up."""

from __future__ import annotations

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
