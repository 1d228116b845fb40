"""What the centre files its work under: the kinds of inquiry and the units that take cases.

The centre owns this list, not the code: the policy file's `[taxonomy]` section names them
(`casemgmt.policy_file` reads it), and without one the six kinds of `InquiryKind` and the
provincial units below apply. Stored events hold kinds and units as plain strings, so a kind or a
unit dropped from the list later still loads; only new commands are checked against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from casemgmt.domain.requests import InquiryKind
from casemgmt.domain.sla_policy import PolicyError
from casemgmt.domain.validation import InvalidCommand

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from casemgmt.domain.requests import Category

DEFAULT_KINDS: Final = tuple(kind.value for kind in InquiryKind)
# The centre itself and the social security offices of the 63 provinces and cities, by short name.
PROVINCIAL_UNITS: Final = (
    "central",
    *("angiang", "bariavungtau", "bacgiang", "backan", "baclieu", "bacninh", "bentre"),
    *("binhdinh", "binhduong", "binhphuoc", "binhthuan", "camau", "cantho", "caobang"),
    *("danang", "daklak", "daknong", "dienbien", "dongnai", "dongthap", "gialai", "hagiang"),
    *("hanam", "hanoi", "hatinh", "haiduong", "haiphong", "haugiang", "hoabinh", "hungyen"),
    *("khanhhoa", "kiengiang", "kontum", "laichau", "lamdong", "langson", "laocai", "longan"),
    *("namdinh", "nghean", "ninhbinh", "ninhthuan", "phutho", "phuyen", "quangbinh"),
    *("quangnam", "quangngai", "quangninh", "quangtri", "soctrang", "sonla", "tayninh"),
    *("thaibinh", "thainguyen", "thanhhoa", "hue", "tiengiang", "hcmc", "travinh"),
    *("tuyenquang", "vinhlong", "vinhphuc", "yenbai"),
)
# A kind or unit is a short name: it goes into URLs, queue names and CSV columns as it is.
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_KEYS: Final = ("kinds", "units")


@dataclass(frozen=True)
class Taxonomy:
    """The kinds of inquiry and the units the centre accepts in new commands."""

    kinds: tuple[str, ...] = DEFAULT_KINDS
    units: tuple[str, ...] = PROVINCIAL_UNITS

    def __post_init__(self) -> None:
        for key, names in (("kinds", self.kinds), ("units", self.units)):
            _check_names(f"taxonomy.{key}", names)

    def check_kind(self, field: str, kind: str | None) -> str | None:
        """The kind, when it is one of the taxonomy's; refused naming the valid ones otherwise."""
        return _check_member(field, kind, self.kinds)

    def check_unit(self, field: str, unit: str | None) -> str | None:
        """The unit, when it is one of the taxonomy's; refused naming the valid ones otherwise."""
        return _check_member(field, unit, self.units)

    def check_category(self, field: str, category: Category | None) -> None:
        if category is not None:
            self.check_kind(f"{field}.kind", category.kind)

    @classmethod
    def from_mapping(cls, section: Mapping[str, Any] | None) -> Taxonomy:
        """The taxonomy a policy file's `[taxonomy]` table describes (None: the default one);
        a list left out is the default list."""
        if section is None:
            return cls()
        if not isinstance(section, dict):
            raise PolicyError("taxonomy", "must be a table ([taxonomy])")
        unknown = sorted(set(section) - set(_KEYS))
        if unknown:
            raise PolicyError(f"taxonomy.{unknown[0]}", "is not a key (kinds, units)")
        lists = {key: _names(section.get(key), f"taxonomy.{key}") for key in _KEYS}
        return cls(
            kinds=DEFAULT_KINDS if lists["kinds"] is None else lists["kinds"],
            units=PROVINCIAL_UNITS if lists["units"] is None else lists["units"],
        )


def _names(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PolicyError(where, "must be a list of names, e.g. ['hanoi', 'hcmc']")
    return tuple(value)


def _check_names(where: str, names: Iterable[str]) -> None:
    listed = list(names)
    if not listed:
        raise PolicyError(where, "must name at least one")
    for number, name in enumerate(listed, 1):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise PolicyError(
                f"{where}[{number}]",
                f"{name!r} is not a short name (lower-case letters, digits, '_', '-', '.')",
            )
    seen: set[str] = set()
    for number, name in enumerate(listed, 1):
        if name in seen:
            raise PolicyError(f"{where}[{number}]", f"{name!r} is listed twice")
        seen.add(name)


def _check_member(field: str, value: str | None, accepted: tuple[str, ...]) -> str | None:
    if value is None or value in accepted:
        return value
    raise InvalidCommand(field, f"{value!r} is not one of: {', '.join(accepted)}")
