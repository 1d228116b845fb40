"""Running projections: stand by for the lock, catch up in batches, then follow the log live.

Each projection runs in a thread of its own. With several worker processes, the one holding the
projection's advisory lock processes it and the others stand by, trying the lock every
`lock_retry_seconds`; when the holder dies its lock connection closes and a standby takes over.
A worker that loses its lock's connection stops writing and stands by again; should a write of its
still be in flight, the projection's position check (see `Projection.write`) refuses it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from casemgmt.projections.base import EventT, PositionMoved
from casemgmt.runtime.election import ElectedRunner

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import FrameType

    from casemgmt.persistence.locks import ProjectionLock
    from casemgmt.projections.base import Projection
    from casemgmt.runtime.log import Batch, EventLog

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# Following the log live, a runner woken by news waits this long before it reads, so that the
# writes of the next few milliseconds join the batch: on a busy log, each projection then reads and
# writes a few dozen times a second, not once per write (its lag grows by at most this much).
DEFAULT_SETTLE_SECONDS = 0.02


class ProjectionRunner(ElectedRunner[EventT]):
    """Keeps one projection up to date with the log it follows, in a thread, while holding its
    lock."""

    def __init__(
        self,
        projection: Projection[EventT],
        log: EventLog[EventT],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lock_retry_seconds: float = 1.0,
        housekeeping_seconds: float = 1.0,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.projection = projection
        self.batch_size = batch_size
        self.housekeeping_seconds = housekeeping_seconds
        self.settle_seconds = settle_seconds
        self.position: int | None = None  # the last notification this runner wrote
        super().__init__(log, lock_retry_seconds=lock_retry_seconds)

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def lock_name(self) -> str:
        return self.projection.lock_name

    @property
    def thread_name(self) -> str:
        return f"projection:{self.name}"

    def work(self, lock: ProjectionLock) -> None:
        self._follow(lock)

    def _follow(self, lock: ProjectionLock) -> None:
        position = self.position = self.projection.resume()
        next_housekeeping = time.monotonic() + self.housekeeping_seconds
        while not self.stopping.is_set():
            lock.check()
            batch = self.log.read(position, self.batch_size)
            if batch is not None:
                position = self._write(batch)
            # Also while catching up: claims whose hold expired go back in line meanwhile.
            if time.monotonic() >= next_housekeeping:
                position = self._housekeeping(position)
                next_housekeeping = time.monotonic() + self.housekeeping_seconds
            if batch is not None and batch.size == self.batch_size:
                continue  # catching up: there may be more at once
            if lock.wait_for_news(self.housekeeping_seconds, wake=self.wake_fd):
                self.stopping.wait(self.settle_seconds)  # let the next writes join the batch

    def _write(self, batch: Batch[EventT]) -> int:
        try:
            self.projection.write(batch)
        except PositionMoved:
            moved_to = self.projection.resume()
            if moved_to == batch.after:
                raise  # refused although nobody moved it: not a race, a fault
            logger.info(
                "projection %s was moved from %s to %s; carrying on from there",
                self.name,
                batch.after,
                moved_to,
            )
            self.position = moved_to
            return moved_to
        self.position = batch.last_id
        return batch.last_id

    def _housekeeping(self, position: int) -> int:
        """Notices a store that lost or changed its position (Redis restarted empty, a rebuild)."""
        stored = self.projection.position()
        if stored != position:
            logger.warning(
                "projection %s is at %s in its store, not %s; resuming from the store",
                self.name,
                stored,
                position,
            )
            position = self.position = self.projection.resume()
        self.projection.on_idle()
        return position


class ProjectionWorker:
    """Runs projections (and the SLA timer) in threads of this process: in `casemgmt serve` or as
    `casemgmt worker`. Each projection follows `log`, or the log `logs` gives for its name."""

    def __init__(
        self,
        log: EventLog,
        projections: Iterable[Projection[Any]],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lock_retry_seconds: float = 1.0,
        others: Iterable[ElectedRunner] = (),
        logs: Mapping[str, EventLog[Any]] | None = None,
    ) -> None:
        self.log = log
        followed: Mapping[str, EventLog[Any]] = logs or {}
        self.runners: dict[str, ElectedRunner[Any]] = {
            projection.name: ProjectionRunner(
                projection,
                followed.get(projection.name, log),
                batch_size=batch_size,
                lock_retry_seconds=lock_retry_seconds,
            )
            for projection in projections
        }
        self.runners.update((runner.name, runner) for runner in others)
        self._stopped = threading.Event()

    def start(self) -> None:
        for runner in self.runners.values():
            runner.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stops every runner after the batch in hand; their locks go to the standbys."""
        if self._stopped.is_set():
            return
        for runner in self.runners.values():
            runner.stop()
        deadline = time.monotonic() + timeout
        for runner in self.runners.values():
            if not runner.join(max(0.0, deadline - time.monotonic())):
                logger.warning("projection %s did not stop within %.0fs", runner.name, timeout)
        self._stopped.set()

    def wait(self) -> None:
        """Blocks until `stop` has been called (from a signal handler, say) and has finished."""
        while not self._stopped.wait(1.0):
            pass

    def active(self) -> list[str]:
        """The projections this process processes now (the others it stands by for)."""
        return [name for name, runner in self.runners.items() if runner.active.is_set()]

    def __enter__(self) -> ProjectionWorker:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_until_signalled(worker: ProjectionWorker) -> None:
    """Runs the worker until SIGTERM or SIGINT, then stops it cleanly (its locks go at once)."""

    def stop(signum: int, _: FrameType | None) -> None:
        # Stopping joins the runners' threads: not inside the handler, which interrupts one.
        threading.Thread(target=worker.stop, name=f"stop on signal {signum}").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.start()
    worker.wait()
