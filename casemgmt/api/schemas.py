"""What the API accepts: the bodies of intake and of every action, and the queries of reads.

Values are checked here only as far as their form goes (types, enums, lengths, storable text and
moments); whether a value makes sense for the case is the domain's to say (`InvalidCommand`, 422).
What the API answers is described in `casemgmt.api.representations`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

from marshmallow import Schema, ValidationError, fields, post_load, validate

from casemgmt.domain import (
    Action,
    BodyField,
    Category,
    Channel,
    FieldKind,
    InsuranceLine,
    Priority,
    Requester,
    RequesterKind,
    Status,
)
from casemgmt.domain.sla import ClockName
from casemgmt.queries.case_list import MAX_PER_PAGE, SORTS

SHORT: Final = validate.Length(min=1, max=200)
LONG: Final = validate.Length(min=1, max=20_000)
MAX_VERSION: Final = 2**31 - 1
# How many values one filter of a list may name, and how many cases a queue's work list shows.
MAX_FILTER_VALUES: Final = 100
MAX_QUEUE_ITEMS: Final = 500


class Text(fields.String):
    """A string that can be stored and projected: no NUL character, no unpaired surrogate."""

    default_error_messages = {  # noqa: RUF012 -- marshmallow's own convention
        "unstorable": "Must not contain NUL characters or unpaired surrogates."
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("unstorable") from None
        if "\x00" in text:
            raise self.make_error("unstorable")
        return text


def representable(moment: datetime) -> None:
    """Refuses moments at the very ends of the calendar, which overflow when converted to UTC."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError("Must be a date and time between the years 1 and 9999.") from None


# A moment whose offset's `+` came unencoded in a query string, where it reads as a space:
# `2026-12-01T10:00:00 07:00`. A space before an offset after the time can only have been a `+`.
_UNENCODED_PLUS: Final = re.compile(r"^(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class QueryMoment(fields.AwareDateTime):
    """A moment in a query string: ISO-8601 with an offset; a `+` sent unencoded is accepted."""

    default_error_messages = {  # noqa: RUF012 -- marshmallow's own convention
        "invalid": "Not a valid date and time: write ISO-8601 with an offset, such as "
        "2026-12-01T10:00:00+07:00 (in a URL, + may be written %2B).",
        "invalid_awareness": "Must have an offset, such as 2026-12-01T10:00:00+07:00 or "
        "2026-12-01T03:00:00Z.",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=representable, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, str):
            value = _UNENCODED_PLUS.sub(r"\1+\2", value.strip())
        return super()._deserialize(value, attr, data, **kwargs)


def enum_field(enum: Any, **kwargs: Any) -> fields.Enum[Any]:
    """A field of an enum's values (`"in_progress"`), as the API reads and writes them."""
    return fields.Enum(enum, by_value=True, **kwargs)


class RequesterSchema(Schema):
    """The citizen, employer or organisation who asks."""

    kind = enum_field(RequesterKind, required=True)
    id = Text(
        allow_none=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Insurance (social security) number or tax number"},
    )
    name = Text(required=True, validate=SHORT)
    contact = Text(allow_none=True, validate=SHORT, metadata={"description": "Phone or e-mail"})

    @post_load
    def make_requester(self, data: dict[str, Any], **_: Any) -> Requester:
        return Requester(data["kind"], data.get("id"), data["name"], data.get("contact"))


class CategorySchema(Schema):
    """Which insurance line and what kind of inquiry; either may be unknown."""

    line = enum_field(InsuranceLine, allow_none=True)
    kind = Text(
        validate=SHORT,
        allow_none=True,
        metadata={"description": "A kind of the taxonomy in force (422 lists them)"},
    )

    @post_load
    def make_category(self, data: dict[str, Any], **_: Any) -> Category:
        return Category(data.get("line"), data.get("kind"))


class OpenCaseSchema(Schema):
    """A question received through a channel; only channel, subject and requester are required."""

    channel = enum_field(Channel, required=True)
    external_ref = Text(
        allow_none=True,
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": "The channel's own id of the message; the same one twice opens one case"
        },
    )
    subject = Text(required=True, validate=validate.Length(min=1, max=500))
    body = Text(allow_none=True, validate=validate.Length(max=100_000))
    received_at = fields.AwareDateTime(
        validate=representable,
        metadata={
            "description": "When the channel received it (the clocks start then); now when left out"
        },
    )
    requester = fields.Nested(RequesterSchema, required=True)
    category = fields.Nested(CategorySchema)
    priority = enum_field(Priority)
    unit = Text(allow_none=True, validate=SHORT)


class CaseQuerySchema(Schema):
    """Which state of the case: now, at a version, or at a moment (at most one of the two)."""

    version = fields.Integer(
        validate=validate.Range(min=1, max=MAX_VERSION),
        metadata={"description": "The case as it was at this version"},
    )
    as_of = QueryMoment(
        metadata={
            "description": "The case as it was at this moment (ISO-8601, with offset: "
            "2026-12-01T10:00:00+07:00; a + left unencoded, which arrives as a space, is read as +)"
        },
    )


# -- the bodies of the actions, made from their declarations ----------------------------------


def _body_field(declared: BodyField) -> fields.Field[Any]:
    """The marshmallow field of one declared body field."""
    options: dict[str, Any] = {"required": declared.required}
    if not declared.required:
        options["allow_none"] = True
    if declared.description:
        options["metadata"] = {"description": declared.description}
    kind = declared.kind
    if kind is FieldKind.TEXT:
        return Text(validate=LONG, **options)
    if kind is FieldKind.NAME:
        return Text(validate=SHORT, **options)
    if kind is FieldKind.CATEGORY:
        return fields.Nested(CategorySchema, **options)
    if kind is FieldKind.PRIORITY:
        return enum_field(Priority, **options)
    if kind is FieldKind.CASE_ID:
        return fields.UUID(**options)
    if kind is FieldKind.SCORE:
        return fields.Integer(strict=True, validate=validate.Range(min=1, max=5), **options)
    raise AssertionError(f"no API field for {kind}")  # pragma: no cover


def action_body_schema(action: Action) -> type[Schema]:
    """The schema of `POST /cases/{id}/<action>`'s body, named after the action (`ReplyBody`)."""
    name = "".join(part.title() for part in action.path.split("-")) + "Body"
    declared = {field.name: _body_field(field) for field in action.rule.body}
    return Schema.from_dict(declared, name=name)


ACTION_BODIES: Final = {action: action_body_schema(action) for action in Action}


# -- the queries of lists -----------------------------------------------------------------------


class Several(fields.List[Any]):
    """A filter of one or more values: the parameter repeated (`?a=x&a=y`) or `?a=x,y`."""

    def __init__(self, inner: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(inner, validate=validate.Length(min=1, max=MAX_FILTER_VALUES), **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> list[Any]:
        given = value if isinstance(value, list | tuple) else [value]
        values = [
            part.strip()
            for item in given
            for part in (item.split(",") if isinstance(item, str) else [item])
        ]
        try:
            return super()._deserialize(values, attr, data, **kwargs)
        except ValidationError as error:
            raise ValidationError(_by_value(error.messages, values)) from None


def _by_value(messages: Any, values: list[Any]) -> Any:
    """The errors of a list's items keyed by the value given, not by its index (`status.0`)."""
    if not isinstance(messages, dict):
        return messages
    return [
        f"{values[index]!r}: {message}"
        for index, item in messages.items()
        for message in (item if isinstance(item, list) else [item])
    ]


def _sorts() -> list[str]:
    return [order for key in SORTS for order in (key, f"-{key}")]


class Paged(Schema):
    """Which page of a list."""

    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=MAX_VERSION),
        metadata={"description": "Which page, from 1"},
    )
    per_page = fields.Integer(
        load_default=25,
        validate=validate.Range(min=1, max=MAX_PER_PAGE),
        metadata={"description": "How many a page holds"},
    )


class CaseListQuerySchema(Paged):
    """Which cases, in which order, which page: every filter given must match.

    A filter takes several values, repeated or separated by commas (`?status=triaged,in_progress`);
    a case matches when it has any of them. The list is taken at the moment of the request, which
    `at_risk` depends on.
    """

    status = Several(enum_field(Status))
    channel = Several(enum_field(Channel))
    category_line = Several(enum_field(InsuranceLine), metadata={"description": "Insurance line"})
    category_kind = Several(Text(validate=SHORT), metadata={"description": "Kind of inquiry"})
    priority = Several(enum_field(Priority))
    unit = Several(Text(validate=SHORT))
    queue = Several(Text(validate=SHORT))
    assignee = Several(Text(validate=SHORT), metadata={"description": "Agents' account names"})
    escalation_level = Several(fields.Integer(validate=validate.Range(min=0, max=MAX_VERSION)))
    reference = Several(
        Text(validate=SHORT), metadata={"description": "Case references (CC-2026-000001)"}
    )
    breached = fields.Boolean(
        metadata={"description": "Whether the SLA timer recorded a breach of a clock of the case"}
    )
    at_risk = fields.Boolean(
        metadata={
            "description": "Whether an SLA clock of the case is at risk now: running, past its "
            "warning instant, its deadline not yet passed"
        }
    )
    text = Text(
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": "Words in the subject, body or messages, with or without diacritics "
            '("bao hiem" finds "Bảo hiểm"): all must occur; "a phrase", or, -word to exclude'
        },
    )
    sort = fields.String(
        load_default="-received_at",
        validate=validate.OneOf(_sorts()),
        metadata={
            "description": "The order: a field, descending with -; relevance needs text; due is "
            "the nearest deadline of a running SLA clock (cases with none last)"
        },
    )


class SlaListQuerySchema(Paged):
    """Which SLA clocks, which page: every filter given must match.

    A filter takes several values, repeated or separated by commas (`?clock=first_response`).
    """

    unit = Several(Text(validate=SHORT))
    queue = Several(Text(validate=SHORT))
    clock = Several(enum_field(ClockName), metadata={"description": "Which SLA clock"})
    channel = Several(enum_field(Channel))


class QueueQuerySchema(Schema):
    """How much of a queue's work list to show."""

    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_QUEUE_ITEMS),
        metadata={"description": "How many of the first cases to list"},
    )
