"""`python -m casemgmt.projections`: a projection worker process, until SIGTERM or Ctrl-C.

Reads CASEMGMT_DATABASE_URL and CASEMGMT_REDIS_URL like every casemgmt process; the servers must
be running and migrated (`casemgmt worker` does the same after starting embedded servers).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from casemgmt.bootstrap import build
from casemgmt.projections.registry import build_projections
from casemgmt.projections.runner import DEFAULT_BATCH_SIZE, run_until_signalled
from casemgmt.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m casemgmt.projections", description=__doc__)
    parser.add_argument("--only", action="append", help="run this projection (repeatable)")
    parser.add_argument(
        "--key-prefix", help="exact Redis key prefix (default: the one casemgmt serve uses)"
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--lock-retry-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    settings = Settings.from_env()
    if settings.database_url is None or settings.redis_url is None:
        print("set CASEMGMT_DATABASE_URL and CASEMGMT_REDIS_URL", file=sys.stderr)
        return 2
    container = build(settings)
    try:
        projections = container.projections
        if args.key_prefix:
            projections = build_projections(
                container.care_centre,
                container.datastore,
                container.redis,
                routing=container.work_queues.routing,
                key_prefix=args.key_prefix,
            )
        worker = projections.worker(
            args.only, batch_size=args.batch_size, lock_retry_seconds=args.lock_retry_seconds
        )
        run_until_signalled(worker)
    finally:
        container.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
