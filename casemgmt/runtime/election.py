"""One active worker across processes: a thread that stands by for an advisory lock, works while
it holds it, and stands by again when it loses it or fails.

With several worker processes, the one holding the lock works and the others stand by, trying the
lock every `lock_retry_seconds`; when the holder dies its lock connection closes and a standby
takes over (`casemgmt.persistence.locks`). Projection runners and the SLA timer are such threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Generic

from casemgmt.persistence.locks import LockLost, ProjectionLock
from casemgmt.projections.base import EventT

if TYPE_CHECKING:
    from casemgmt.runtime.log import EventLog

logger = logging.getLogger(__name__)


class ElectedRunner(ABC, Generic[EventT]):
    """A thread that does its work only while it holds the lock named `lock_name`; it waits for
    news on the NOTIFY channel of `log`."""

    def __init__(self, log: EventLog[EventT], *, lock_retry_seconds: float = 1.0) -> None:
        self.log = log
        self.lock_retry_seconds = lock_retry_seconds
        self.active = threading.Event()  # set while this runner holds the lock and works
        self.last_error: BaseException | None = None
        self._stopping = threading.Event()
        # Written on stop, so that a wait on the lock's connection ends at once.
        self._wake_reader, self._wake_writer = os.pipe()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    @property
    @abstractmethod
    def name(self) -> str: ...

    @property
    @abstractmethod
    def lock_name(self) -> str: ...

    @property
    def thread_name(self) -> str:
        return self.name

    @abstractmethod
    def work(self, lock: ProjectionLock) -> None:
        """Works until stopped (`self.stopping`) while the lock is held; `lock.check()` raises
        LockLost once it is not."""

    @property
    def stopping(self) -> threading.Event:
        return self._stopping

    @property
    def wake_fd(self) -> int:
        """Readable once the runner is asked to stop (for `lock.wait_for_news(wake=…)`)."""
        return self._wake_reader

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Asks the runner to stop after the work in hand (see `join`); a runner runs once."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_writer, b"x")

    def join(self, timeout: float | None = None) -> bool:
        """Waits for the thread to end; True when it did. Releases the pipe once it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
        if self._wake_reader >= 0:
            for fd in (self._wake_reader, self._wake_writer):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_reader = self._wake_writer = -1
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with ProjectionLock(
                    self.log.database_url, self.lock_name, self.log.channel
                ) as lock:
                    if self._stand_by(lock):
                        self.active.set()
                        logger.info("%s: active", self.name)
                        self.work(lock)
            except LockLost as error:
                logger.warning("%s: %s; standing by again", self.name, error)
            except Exception as error:
                self.last_error = error
                logger.exception("%s failed; standing by again", self.name)
            finally:
                self.active.clear()
            # Not at once: a database that is down would otherwise be hammered.
            self._stopping.wait(self.lock_retry_seconds)

    def _stand_by(self, lock: ProjectionLock) -> bool:
        """Tries the lock until it is ours (True) or the runner is stopped (False)."""
        if lock.try_acquire():
            return True
        logger.info("%s: standing by (another process is active)", self.name)
        while not lock.try_acquire():
            if self._stopping.wait(self.lock_retry_seconds):
                return False
        return True
