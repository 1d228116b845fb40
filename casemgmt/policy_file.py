"""The SLA policy file: TOML read from disk, public holidays taken from the `holidays` package.

The domain (`casemgmt.domain.sla_policy`) checks the document and knows no country; this adapter
reads the file named by `CASEMGMT_SLA_POLICY` (the built-in policy when unset) and gives the domain
each country's holidays, computed a year at a time as deadlines reach into it. A file may hold
only some sections (just `[queues]`, say); the sections it leaves out are the built-in ones. The
same file's `[taxonomy]` and `[queues]` are read here too (`load_taxonomy`, `load_routing`): the
routing rules may name only the kinds and units of the taxonomy in force.
"""

from __future__ import annotations

import functools
import hashlib
import tomllib
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import holidays

from casemgmt.domain.routing import DEFAULT_ROUTING, RoutingError, RoutingRules
from casemgmt.domain.sla_policy import DEFAULT_POLICY_TOML, PolicyError, SlaPolicy
from casemgmt.domain.taxonomy import Taxonomy

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import date
    from pathlib import Path


class PolicyFileError(ValueError):
    """The policy file cannot be used; the one-line message names the file, the key and why."""


def load_policy(path: Path | None, *, setting: str = "CASEMGMT_SLA_POLICY") -> SlaPolicy:
    """The policy in the TOML file at `path`, or the built-in one when there is no file.

    `setting` is how the operator named the file (`--policy` on a command line), so the message
    points at what to fix.
    """
    where = "built-in SLA policy" if path is None else f"{setting}={path}"
    try:
        text = DEFAULT_POLICY_TOML if path is None else path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyFileError(_one_line(f"{where}: cannot be read ({error.strerror})")) from None
    except UnicodeDecodeError:
        raise PolicyFileError(f"{where}: is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message ends "(at line L, column C)"
        raise PolicyFileError(_one_line(f"{where}: not valid TOML: {error}")) from None
    # A file may hold only some sections (say, just `[queues]`): the others are the built-in ones.
    document = {**tomllib.loads(DEFAULT_POLICY_TOML), **document}
    try:
        return SlaPolicy.from_mapping(document, public_holidays=public_holidays)
    except PolicyError as error:
        raise PolicyFileError(_one_line(f"{where}: {error}")) from None


def load_taxonomy(path: Path | None, *, setting: str = "CASEMGMT_SLA_POLICY") -> Taxonomy:
    """The kinds of inquiry and units the policy file's `[taxonomy]` names (the default ones for
    what it leaves out, and without a file)."""
    if path is None:
        return Taxonomy()
    where = f"{setting}={path}"
    document = _document(path, where)
    try:
        return Taxonomy.from_mapping(document.get("taxonomy"))
    except PolicyError as error:
        raise PolicyFileError(_one_line(f"{where}: {error}")) from None


def load_routing(
    path: Path | None, taxonomy: Taxonomy, *, setting: str = "CASEMGMT_SLA_POLICY"
) -> RoutingRules:
    """The work queues' routing rules the policy file's `[queues]` names (the built-in ones
    without a file or section), their kinds and units checked against `taxonomy`: the one in
    force (the same file's `[taxonomy]`, or the default one)."""
    if path is None:
        return DEFAULT_ROUTING
    where = f"{setting}={path}"
    section = _document(path, where).get("queues")
    if section is None:
        return DEFAULT_ROUTING
    try:
        return RoutingRules.from_mapping(section, taxonomy)
    except RoutingError as error:
        raise PolicyFileError(_one_line(f"{where}: {error}")) from None


def _document(path: Path, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolicyFileError(_one_line(f"{where}: cannot be read ({error.strerror})")) from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PolicyFileError(_one_line(f"{where}: not valid TOML: {error}")) from None


def public_holidays(country: str) -> Callable[[date], bool]:
    """Whether a day is a public holiday in `country` (a `holidays` code such as "VN").

    Raises LookupError for a code the package does not know, which the policy reports by key.
    """
    try:
        holidays.country_holidays(country)  # no year asked: only checks that the country exists
    except NotImplementedError:
        raise LookupError(country) from None

    def is_holiday(day: date) -> bool:
        return day in _holidays_in(country, day.year)

    return is_holiday


@functools.lru_cache(maxsize=64)
def _holidays_in(country: str, year: int) -> frozenset[date]:
    # The neighbouring years too: a holiday observed on another day may cross New Year.
    around = holidays.country_holidays(country, years=range(year - 1, year + 2))
    return frozenset(day for day in around if day.year == year)


def _one_line(message: str) -> str:
    return " ".join(message.splitlines())


def policy_fingerprint(path: Path | None) -> str:
    """What identifies the policy in force: the file's text, the built-in sections it leaves to
    the default, and the holidays package's version (a new release can move a holiday)."""
    text = DEFAULT_POLICY_TOML if path is None else path.read_text(encoding="utf-8")
    digest = hashlib.sha256()
    for part in (text, DEFAULT_POLICY_TOML, version("holidays")):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
