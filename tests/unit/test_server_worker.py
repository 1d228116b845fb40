"""`CASEMGMT_SERVER_WORKER`, the measurement switch between casemgmt's buffered worker (waitress
in gunicorn, the default) and gunicorn's own `gthread` worker."""

from __future__ import annotations

import pytest

from casemgmt.bootstrap import StartupError
from casemgmt.cli.buffered_worker import BufferedWorker
from casemgmt.cli.serving import worker_class


def test_the_buffered_worker_serves_unless_gthread_is_asked_for() -> None:
    assert worker_class({}) is BufferedWorker
    assert worker_class({"CASEMGMT_SERVER_WORKER": ""}) is BufferedWorker
    assert worker_class({"CASEMGMT_SERVER_WORKER": "buffered"}) is BufferedWorker
    assert worker_class({"CASEMGMT_SERVER_WORKER": " GThread "}) == "gthread"


def test_an_unknown_worker_is_refused_in_one_line() -> None:
    with pytest.raises(StartupError, match="buffered or gthread, not 'sync'"):
        worker_class({"CASEMGMT_SERVER_WORKER": "sync"})
