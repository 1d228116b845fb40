"""The documentation stays true: the role table and the actions in docs/api.md match the code, and
no link in README.md or docs/ points outside the repository or at a file that is not there."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from casemgmt.application import OPERATIONS, roles_that_may
from casemgmt.domain import Action
from casemgmt.policy_file import load_policy, load_routing, load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
API_GUIDE = ROOT / "docs" / "api.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) links, and `path` mentions of files in the repository.
_LINK = re.compile(r"\]\(([^)#\s]+)")


def _table_rows(text: str, header: str) -> dict[str, str]:
    """The first table whose header row starts with `header`: first cell → second cell."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def test_the_api_guide_lists_every_operation_with_the_roles_the_code_gives_it() -> None:
    documented = _table_rows(API_GUIDE.read_text(encoding="utf-8"), "operation")
    in_code = {op: ", ".join(role.value for role in roles_that_may(op)) for op in OPERATIONS}
    assert documented == in_code


def test_the_api_guide_describes_every_action_and_no_other() -> None:
    documented = _table_rows(API_GUIDE.read_text(encoding="utf-8"), "action")
    assert list(documented) == [action.path for action in Action]


def test_no_page_links_outside_the_repository_or_to_a_missing_file() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{page.name} points outside the repository"
        for target in _LINK.findall(text):
            if "://" in target:
                continue
            assert (page.parent / target).resolve().exists(), f"{page.name}: {target} is missing"


def _repository_files() -> list[str]:
    """The files a clone gets: tracked ones and new ones not ignored (about to be committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def test_in_a_clean_clone_every_page_links_only_to_files_of_the_repository(
    tmp_path: Path,
) -> None:
    # A copy with nothing beside it: no `../shared`, no ignored file (var/, .venv/) to lean on.
    clone = tmp_path / "alone" / "casemgmt"
    for name in _repository_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, target)
    pages = sorted(clone.rglob("*.md"))
    assert clone / "README.md" in pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(clone)
        assert "/work/" not in text, f"{where} names a path of the machine it was written on"
        for target in _LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(clone), f"{where}: {target} is outside the repository"
            assert resolved.exists(), f"{where}: {target} is not in the repository"


def test_the_policy_example_in_the_sla_guide_is_a_valid_policy(tmp_path: Path) -> None:
    guide = (ROOT / "docs" / "sla.md").read_text(encoding="utf-8")
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    policy_file = tmp_path / "sla.toml"
    policy_file.write_text(example, encoding="utf-8")

    policy = load_policy(policy_file)

    assert policy.version == "vn-2026.1"
    assert [str(target.first_response) for target in policy.targets] == ["PT2H", "PT8H"]


def test_the_queues_example_in_the_sla_guide_routes_the_kinds_of_its_taxonomy_example(
    tmp_path: Path,
) -> None:
    guide = (ROOT / "docs" / "sla.md").read_text(encoding="utf-8")
    blocks = guide.split("```toml\n")[1:]
    (taxonomy,) = [b.split("```", 1)[0] for b in blocks if b.startswith("[taxonomy]")]
    (queues,) = [b.split("```", 1)[0] for b in blocks if b.startswith("[queues]")]
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(taxonomy + queues, encoding="utf-8")

    routing = load_routing(policy_file, load_taxonomy(policy_file))

    assert routing.queue_names == ["pension-transfers", "mobile", "general"]
    assert [sorted(rule.kinds or ()) for rule in routing.rules] == [["pension_estimate"], []]
