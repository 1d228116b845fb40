"""Which work queue a case belongs to: the care centre's routing rules, a business policy.

Routing rules come from configuration (a `[queues]` TOML section or a plain mapping): the first rule
whose conditions all match a case names its queue; a case no rule matches goes to the default
queue. (The order within a queue is the work queues' read model: `readmodels/work_queue_layout`.)

    [queues]
    default = "general"

    [[queues.rules]]
    queue = "complaints"
    kind = ["complaint", "suggestion"]     # a value or a list; a missing condition matches all

    [[queues.rules]]
    queue = "hcm-health"
    unit = "hcmc"
    line = "health"

A rule's `kind` and `unit` name the taxonomy's kinds and units (`casemgmt.domain.taxonomy`: the
policy file's `[taxonomy]`, or the default one), its `line` an `InsuranceLine`; any other value is
refused, naming the rule, the field and the valid values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from casemgmt.domain.lifecycle import Status
from casemgmt.domain.requests import InsuranceLine
from casemgmt.domain.taxonomy import Taxonomy
from casemgmt.domain.validation import InvalidCommand

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from casemgmt.domain.case import Case


class RoutingError(ValueError):
    """Routing configuration that cannot be used; the message names the rule and field."""


class Routable(Protocol):
    """What routing and ordering look at (a `CaseSummary` is one)."""

    @property
    def case_id(self) -> Any: ...
    @property
    def status(self) -> str: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def category_line(self) -> str | None: ...
    @property
    def category_kind(self) -> str | None: ...
    @property
    def priority(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...
    @property
    def queue(self) -> str | None: ...
    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True)
class _RoutedCase:
    """A `Case` seen as routing sees it."""

    case_id: Any
    status: str
    unit: str | None
    category_line: str | None
    category_kind: str | None
    priority: str
    assignee: str | None
    queue: str | None
    received_at: datetime

    @classmethod
    def of(cls, case: Case) -> _RoutedCase:
        category = case.category
        return cls(
            case_id=case.id,
            status=str(case.status),
            unit=case.unit,
            category_line=str(category.line) if category and category.line else None,
            category_kind=str(category.kind) if category and category.kind else None,
            priority=str(case.priority),
            assignee=case.assignee,
            queue=None,
            received_at=case.received_at,
        )


@dataclass(frozen=True)
class RoutingRule:
    """Cases matching every given condition go to `queue`; a condition left out matches all."""

    queue: str
    units: frozenset[str] | None = None
    lines: frozenset[str] | None = None
    kinds: frozenset[str] | None = None

    def matches(self, case: Routable) -> bool:
        return (
            _allows(self.units, case.unit)
            and _allows(self.lines, case.category_line)
            and _allows(self.kinds, case.category_kind)
        )


@dataclass(frozen=True)
class RoutingRules:
    """The routing table: rules tried in order, then the default queue."""

    rules: tuple[RoutingRule, ...] = ()
    default_queue: str = "general"

    def route(self, case: Routable) -> str:
        """The queue of the first rule the case matches, else the default queue."""
        for rule in self.rules:
            if rule.matches(case):
                return rule.queue
        return self.default_queue

    def queue_of(self, case: Case) -> str | None:
        """The queue a case belongs to, as the case list has it: none while it awaits triage."""
        if case.status == Status.RECEIVED:
            return None
        return self.route(_RoutedCase.of(case))

    @property
    def queue_names(self) -> list[str]:
        """Every queue the rules can route to, in the order they are first named."""
        return list(dict.fromkeys([*(rule.queue for rule in self.rules), self.default_queue]))

    @classmethod
    def from_toml(cls, text: str, taxonomy: Taxonomy | None = None) -> RoutingRules:
        """The rules of a TOML document's `[queues]` section (the built-in ones when absent),
        their kinds and units checked against `taxonomy` (None: the default one)."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise RoutingError(f"queues: not valid TOML: {error}") from None
        section = document.get("queues")
        return DEFAULT_ROUTING if section is None else cls.from_mapping(section, taxonomy)

    @classmethod
    def from_mapping(
        cls, section: Mapping[str, Any], taxonomy: Taxonomy | None = None
    ) -> RoutingRules:
        """Rules from `{"default": "general", "rules": [{"queue": …, "unit": …}, …]}`, their
        kinds and units checked against `taxonomy` (None: the default one)."""
        if not isinstance(section, dict):
            raise RoutingError("queues: must be a table ([queues])")
        default = section.get("default", "general")
        if not isinstance(default, str) or not default.strip():
            raise RoutingError("queues.default: must name a queue")
        rules = section.get("rules", [])
        if not isinstance(rules, list):
            raise RoutingError("queues.rules: must be a list of tables")
        taxonomy = Taxonomy() if taxonomy is None else taxonomy
        return cls(tuple(_rule(n, rule, taxonomy) for n, rule in enumerate(rules, 1)), default)


DEFAULT_ROUTING: Final = RoutingRules(
    rules=(
        RoutingRule("complaints", kinds=frozenset({"complaint", "suggestion"})),
        RoutingRule("health", lines=frozenset({"health"})),
        RoutingRule("unemployment", lines=frozenset({"unemployment"})),
        RoutingRule("social", lines=frozenset({"social"})),
    ),
    default_queue="general",
)


def _allows(allowed: frozenset[str] | None, value: str | None) -> bool:
    return allowed is None or value in allowed


def _rule(number: int, rule: Any, taxonomy: Taxonomy) -> RoutingRule:
    where = f"queues.rules[{number}]"
    if not isinstance(rule, dict):
        raise RoutingError(f"{where}: must be a table")
    unknown = set(rule) - {"queue", "unit", "line", "kind"}
    if unknown:
        raise RoutingError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    queue = rule.get("queue")
    if not isinstance(queue, str) or not queue.strip():
        raise RoutingError(f"{where}.queue: must name a queue")
    return RoutingRule(
        queue=queue,
        units=_condition(f"{where}.unit", rule.get("unit"), taxonomy.check_unit),
        lines=_condition(f"{where}.line", rule.get("line"), _check_line),
        kinds=_condition(f"{where}.kind", rule.get("kind"), taxonomy.check_kind),
    )


def _condition(
    field: str, value: Any, check: Callable[[str, str], object]
) -> frozenset[str] | None:
    """The values a condition allows; `check` refuses one that cannot be (`InvalidCommand`)."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise RoutingError(f"{field}: must be a string or a list of strings")
    for item in values:
        try:
            check(field, item)
        except InvalidCommand as error:
            raise RoutingError(str(error)) from None
    return frozenset(values)


def _check_line(field: str, line: str) -> None:
    lines = [member.value for member in InsuranceLine]
    if line not in lines:
        raise InvalidCommand(field, f"{line!r} is not one of: {', '.join(lines)}")
