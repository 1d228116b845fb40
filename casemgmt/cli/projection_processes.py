"""The projections run in processes of their own beside a long write in this one (`casemgmt demo`).

A Python process runs Python code in one thread at a time: a writer that ran the projections in
threads of its own would wait for them and they for it, on one core of the machine. Here each
projection gets a child process that follows the log as `casemgmt worker --only NAME` does while
this process writes, so the write and the projections share the cores; once the write ends,
`wait_until_caught_up` waits for every projection to reach the head of the log it follows.

The children take part in the election like any worker: where a server or a worker already runs a
projection, its child stands by, and the wait is for that process to catch up. A child is told
its settings on its standard input and stops when that input ends: when this process closes it,
or ends in any way.
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Final

from casemgmt.bootstrap import build
from casemgmt.runtime.registry import REBUILD_BATCH_SIZE

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import TracebackType

    from casemgmt.projections.base import Progress
    from casemgmt.runtime import Projections
    from casemgmt.settings import Settings

POLL_SECONDS: Final = 0.2
STOP_SECONDS: Final = 30.0


class ProjectionProcessFailed(RuntimeError):  # noqa: N818 -- names read as what happened
    """A projection's child process ended before it was told to (its error is on stderr)."""

    def __init__(self, name: str, status: int) -> None:
        super().__init__(f"the process running projection {name} ended with status {status}")
        self.name = name


class ProjectionProcesses:
    """A child process for each of the named projections, from `with` until the block ends."""

    def __init__(
        self, settings: Settings, names: Sequence[str], *, batch_size: int = REBUILD_BATCH_SIZE
    ) -> None:
        self.settings = settings
        self.names = list(names)
        self.batch_size = batch_size
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._stopping = False

    def __enter__(self) -> ProjectionProcesses:
        for name in self.names:
            child = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import follow; follow()"],
                stdin=subprocess.PIPE,
            )
            self._children[name] = child
            assert child.stdin is not None
            child.stdin.write(pickle.dumps((self.settings, name, self.batch_size)))
            child.stdin.flush()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait_until_caught_up(
        self, projections: Projections, progress: Progress | None = None
    ) -> None:
        """Waits until every projection has written the head of its log as it is now; raises
        ProjectionProcessFailed when a child ends first. `progress(done, total)` counts the
        notifications written, over all the projections."""
        heads = projections.heads(self.names)
        total = sum(heads.values())
        while True:
            at = projections.positions(self.names)
            done = sum(min(heads[name], position or 0) for name, position in at.items())
            if progress is not None:
                progress(done, total)
            if done >= total:
                return
            self.check()
            time.sleep(POLL_SECONDS)

    def check(self) -> None:
        """Raises ProjectionProcessFailed for a child that ended before it was told to."""
        for name, child in self._children.items():
            status = child.poll()
            if status is not None and not self._stopping:
                raise ProjectionProcessFailed(name, status)

    def stopped(self) -> bool:
        """Whether every child has ended."""
        return all(child.poll() is not None for child in self._children.values())

    def stop(self) -> None:
        """Tells the children to stop after the batch in hand, and waits for them."""
        self._stopping = True
        for child in self._children.values():
            if child.stdin is not None:
                child.stdin.close()
        deadline = time.monotonic() + STOP_SECONDS
        for child in self._children.values():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def follow() -> None:
    """In the child: runs the projection its parent names on standard input until that input
    ends; ends with the runner's error (which the parent notices) when the projection fails."""
    # ^C at the terminal reaches the whole process group: the parent handles it, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings, name, batch_size = pickle.load(sys.stdin.buffer)  # from the parent alone
    parent_gone = threading.Event()

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at end of input
        parent_gone.set()

    threading.Thread(target=watch_parent, name="parent", daemon=True).start()
    container = build(settings)
    try:
        with container.projections.worker([name], batch_size=batch_size) as worker:
            while not parent_gone.wait(POLL_SECONDS):
                failed = worker.runners[name].last_error
                if failed is not None:
                    raise failed
    finally:
        container.close()
