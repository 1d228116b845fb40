"""Break each safety mechanism on purpose in a scratch copy, and check that its guarding test fails.

Every safety mechanism of casemgmt has a test named after it that must fail when that mechanism
alone is removed (STYLE.md, point 15). This script proves it. For each mutation below it

1. copies the working tree into a new temporary directory: the files `git ls-files` names (tracked
   ones, plus untracked ones that are not ignored), as they are on disk, uncommitted edits included;
2. applies the mutation: exact text replacements, each of which must match exactly once, or the
   script stops with an error (the code moved on: update the mutation, never drop it);
3. runs the mutation's guarding tests with pytest from the copy, with the copy first on PYTHONPATH
   (inherited by the worker processes the tests start) and the same CASEMGMT_DATABASE_URL /
   CASEMGMT_REDIS_URL as this process; before pytest starts, the runner checks that `casemgmt` is
   imported from the copy and not from the editable install;
4. records whether the guarding tests failed (caught: "yes") or passed (caught: "NO"), and the
   reason pytest gave for each failure, so a break caught for an unrelated reason shows.

A baseline runs every guarding test on an unmodified copy first: a test that fails without any
mutation proves nothing, so a failing baseline is reported as an error too.

Usage (from the repository root):

    CASEMGMT_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test \\
    CASEMGMT_REDIS_URL=redis://127.0.0.1:6379/0 \\
    .venv/bin/python tests/mutations/run.py [--runs 3] [--only NAME ...] [--keep]

Prints a table (mutation, guarding tests, caught) and the reasons per run, and exits 1 if any
mutation survived in any run, or any baseline failed (keeping the copies and logs to look at).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 900
# Runs pytest in the copy, after checking that the copy's casemgmt is the one that gets imported.
PYTEST_IN_COPY = """
import sys
from pathlib import Path
import casemgmt
copy = Path(sys.argv[1]).resolve()
where = Path(casemgmt.__file__).resolve()
if copy not in where.parents:
    sys.exit(f"casemgmt was imported from {where}, not from the copy in {copy}")
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


@dataclass(frozen=True)
class Replacement:
    """Replace `old` by `new` in `path` (relative to the repository); `old` must occur once."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutation:
    """One safety mechanism removed, and the tests that must then fail."""

    name: str
    breaks: str
    replacements: tuple[Replacement, ...]
    guards: tuple[str, ...]


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        name="table-lock",
        breaks="the application recorder's write no longer takes LOCK TABLE ... IN EXCLUSIVE MODE",
        replacements=(
            Replacement(
                "casemgmt/persistence/recorders.py",
                "f'LOCK TABLE {self.events_table} IN EXCLUSIVE MODE; "
                'NOTIFY "{self.channel_name}"\'',
                "f'NOTIFY \"{self.channel_name}\"'",
            ),
        ),
        guards=(
            "tests/integration/test_notification_order.py::"
            "test_table_lock_a_follower_of_the_log_sees_every_event_of_concurrent_writer_processes",
        ),
    ),
    Mutation(
        name="case-list-transaction",
        breaks="a PostgreSQL projection (the case list among them) moves its position and writes "
        "its rows in two transactions",
        replacements=(
            Replacement(
                "casemgmt/projections/tables.py",
                "            self.datastore.execute(query, params, retries=0)\n",
                "            self.datastore.execute(_ADVANCE, params[:5], retries=0)\n"
                "            for statement, statement_params in statements:\n"
                "                self.datastore.execute(statement, statement_params, retries=0)\n",
            ),
        ),
        guards=(
            "tests/integration/test_projection_crash.py::"
            "test_one_transaction_a_worker_killed_inside_its_writes_leaves_views_equal_to_a_rebuild",
        ),
    ),
    Mutation(
        name="atomic-pop",
        breaks="a claim takes the head of the queue by reading it, then removing it",
        replacements=(
            Replacement(
                "casemgmt/queries/work_queues.py",
                "        taken = self._take(keys=[live.queue(name), live.ages(name), live.held],"
                " args=[hold_until])\n",
                "        head = self.redis.zrange(live.queue(name), 0, 0)\n"
                "        taken = head[0] if head else None\n"
                "        if taken is not None:\n"
                "            self.redis.zrem(live.queue(name), taken)\n"
                "            self.redis.zrem(live.ages(name), taken)\n"
                "            self.redis.zadd(live.held, {taken: hold_until})\n",
            ),
        ),
        guards=(
            "tests/integration/test_queue_claims.py::"
            "test_atomic_pop_claimers_taking_at_once_never_take_the_same_case",
        ),
    ),
    Mutation(
        name="claim-hold",
        breaks="the work queues projection puts a case back in line on its next event while a "
        "claim still holds it",
        replacements=(
            Replacement(
                "casemgmt/readmodels/work_queue_layout.py",
                "if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end\n",
                "",
            ),
        ),
        guards=(
            "tests/integration/test_queue_claims.py::"
            "test_claim_hold_a_case_taken_by_a_claim_stays_out_of_its_queue_until_the_hold_expires",
        ),
    ),
    Mutation(
        name="claim-version-guard",
        breaks="a claim assigns the case without expected_version",
        replacements=(
            Replacement(
                "casemgmt/application/claims.py",
                "case_id, Action.ASSIGN, ctx, expected_version=case.version, agent=ctx.actor.id",
                "case_id, Action.ASSIGN, ctx, agent=ctx.actor.id",
            ),
        ),
        guards=(
            "tests/integration/test_queue_claims.py::"
            "test_version_guard_a_claim_does_not_assign_a_case_assigned_after_it_was_read",
        ),
    ),
    Mutation(
        name="save-conflict",
        breaks="CareCentre._save swallows IntegrityError instead of raising ConcurrentUpdate",
        replacements=(
            Replacement(
                "casemgmt/application/care_centre.py",
                "            raise ConcurrentUpdate(case.id, self.find_case(case.id)) from None\n",
                "            pass\n",
            ),
        ),
        guards=(
            "tests/e2e/test_concurrency.py::"
            "test_save_conflict_of_twenty_assignments_with_one_if_match_exactly_one_wins",
            "tests/e2e/test_concurrency.py::"
            "test_save_conflict_of_twenty_notes_at_once_each_saved_one_has_its_own_version",
            "tests/e2e/test_concurrency.py::"
            "test_save_conflict_of_a_mix_of_actions_with_one_if_match_exactly_one_wins",
            "tests/e2e/test_concurrency.py::"
            "test_save_conflict_of_twenty_deliveries_of_one_message_opens_one_case",
        ),
    ),
)


def scratch_copy(into: Path) -> Path:
    """The working tree's files that git knows of or would add, copied as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        check=True,
        capture_output=True,
    ).stdout.decode()
    copy = into / "repository"
    for name in filter(None, listed.split("\0")):
        source = REPOSITORY / name
        if not source.is_file():
            continue  # deleted in the working tree, not committed yet
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return copy


def apply(mutation: Mutation, copy: Path) -> None:
    for replacement in mutation.replacements:
        path = copy / replacement.path
        text = path.read_text()
        found = text.count(replacement.old)
        if found != 1:
            msg = (
                f"mutation {mutation.name}: expected the text to replace exactly once in "
                f"{replacement.path}, found it {found} times:\n{replacement.old}"
            )
            raise SystemExit(msg)
        path.write_text(text.replace(replacement.old, replacement.new))


def run_tests(copy: Path, tests: tuple[str, ...], log: Path) -> tuple[str, list[str]]:
    """What came of running `tests` in the copy ('passed', 'failed', …), and which failed."""
    python_path = os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")]))
    # Wide enough for pytest's summary lines to keep the reason after the test's long name.
    env = {**os.environ, "PYTHONPATH": python_path, "COLUMNS": "400"}
    env.pop("PYTEST_ADDOPTS", None)
    command = [sys.executable, "-c", PYTEST_IN_COPY, str(copy), "-p", "no:cacheprovider"]
    with log.open("w") as output:
        try:
            code = subprocess.run(
                [*command, "-rfE", *tests],
                cwd=copy,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT_SECONDS,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            return "timed out", []
    # pytest's short summary: "FAILED tests/…py::test_name[param] - AssertionError: why"
    failed = [
        line.split(" ", 1)[1].split("::")[-1]
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith(("FAILED ", "ERROR ")) and "::" in line
    ]
    return {0: "passed", 1: "failed"}.get(code, f"error (pytest exit code {code})"), failed


@dataclass(frozen=True)
class Outcome:
    """How the guarding tests of one mutation (or of none: the baseline) fared in one run."""

    mutation: Mutation | None
    guards: tuple[str, ...]
    result: str
    failed: list[str]
    seconds: float
    log: Path

    @property
    def name(self) -> str:
        return "none (baseline)" if self.mutation is None else self.mutation.name

    @property
    def good(self) -> bool:
        """The baseline passed; a mutation was caught (its guarding tests failed)."""
        return self.result == ("passed" if self.mutation is None else "failed")

    @property
    def verdict(self) -> str:
        if self.mutation is None:
            return "n/a (passed)" if self.good else f"BASELINE {self.result.upper()}"
        if not self.good:
            return f"NO ({self.result})"
        failing = [
            g for g in self.guards if any(f.startswith(g.split("::")[-1]) for f in self.failed)
        ]
        return f"yes ({len(failing)} of {len(self.guards)} failed)"


def run_once(mutations: list[Mutation], workdir: Path) -> list[Outcome]:
    """The baseline, then every mutation, each in a copy of its own."""
    everything = tuple(dict.fromkeys(test for m in mutations for test in m.guards))
    outcomes = []
    for mutation in [None, *mutations]:
        started = time.monotonic()
        place = Path(
            tempfile.mkdtemp(
                prefix="none-" if mutation is None else f"{mutation.name}-", dir=workdir
            )
        )
        copy = scratch_copy(place)
        if mutation is not None:
            apply(mutation, copy)
        guards = everything if mutation is None else mutation.guards
        log = place / "pytest.log"
        result, failed = run_tests(copy, guards, log)
        outcome = Outcome(mutation, guards, result, failed, time.monotonic() - started, log)
        outcomes.append(outcome)
        print(f"  {outcome.name}: {outcome.verdict} in {outcome.seconds:.0f}s", flush=True)
    return outcomes


def table(outcomes: list[Outcome]) -> str:
    rows = [("mutation", "guarding test(s)", "caught", "seconds")]
    for outcome in outcomes:
        tests = outcome.guards if outcome.mutation is not None else ("every test below",)
        names = [test.rsplit("::", 1)[-1] for test in tests]
        rows.append((outcome.name, names[0], outcome.verdict, f"{outcome.seconds:.0f}"))
        rows += [("", name, "", "") for name in names[1:]]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]:>7}"
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.append("")
    lines += [
        f"why {outcome.name} was caught: {failure[:220]}"
        for outcome in outcomes
        if outcome.mutation is not None
        for failure in outcome.failed
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat everything this many times")
    parser.add_argument(
        "--only", nargs="+", choices=[m.name for m in MUTATIONS], help="these mutations only"
    )
    parser.add_argument("--keep", action="store_true", help="keep the copies and pytest logs")
    arguments = parser.parse_args(argv)
    mutations = [m for m in MUTATIONS if not arguments.only or m.name in arguments.only]
    workdir = Path(tempfile.mkdtemp(prefix="casemgmt-mutations-"))
    problems = 0
    try:
        for run in range(1, arguments.runs + 1):
            print(f"run {run} of {arguments.runs}", flush=True)
            outcomes = run_once(mutations, workdir)
            print(f"\n{table(outcomes)}\n", flush=True)
            for outcome in outcomes:
                if not outcome.good:
                    problems += 1
                    arguments.keep = True
                    print(f"{outcome.name}: the end of {outcome.log}", flush=True)
                    print(outcome.log.read_text(errors="replace")[-3000:], flush=True)
    finally:
        if arguments.keep:
            print(f"copies and logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    runs = f"{arguments.runs} run(s)"
    if problems:
        print(f"{runs}: {problems} problem(s): a mutation survived or a baseline failed")
        return 1
    print(f"{runs}: every mutation was caught, every baseline passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
