"""Schema pieces shared by every API: ids, list arguments, end dates."""

from flask import current_app
from marshmallow import Schema, ValidationError, fields, validate

MAX_ID = 2**31 - 1


def Id(*, strict: bool = True, **kwargs) -> fields.Integer:
    """A database id: a positive integer that fits the column.

    Strict (a JSON number, not a string) in bodies; query strings carry only text, so query
    arguments pass ``strict=False``.
    """
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def no_nul(value: str) -> None:
    """PostgreSQL text cannot hold NUL characters: refuse them as input, not as a server error."""
    if "\x00" in value:
        raise ValidationError("Must not contain NUL characters.")


def Text(max_length: int, **kwargs) -> fields.String:
    """A trimmed-down string field with the column's length limit."""
    return fields.String(validate=[validate.Length(min=1, max=max_length), no_nul], **kwargs)


def Choice(enum_class, **kwargs) -> fields.String:
    """A string restricted to an enum's values, listed in the error and the OpenAPI doc."""
    values = [member.value for member in enum_class]
    return fields.String(validate=validate.OneOf(values), metadata={"enum": values}, **kwargs)


def validate_sort(value: str) -> None:
    if not value.strip():
        raise ValidationError("Give at least one field to sort by.")


class ListArgs(Schema):
    """Query arguments every list takes: a sort like ``tier,-annual_value`` and a search."""

    sort = fields.String(
        validate=validate_sort, metadata={"description": "comma-separated fields, - for descending"}
    )
    q = fields.String(
        validate=[validate.Length(max=100), no_nul], metadata={"description": "search text"}
    )
    active = fields.Boolean(metadata={"description": "only active (true) or ended (false)"})


class EndArgs(Schema):
    """End-date something (it is kept for history, never deleted). ``on`` defaults to today."""

    on = fields.Date(metadata={"description": "the end date; default today (UTC)"})


def sort_keys(args: dict, default: tuple[str, ...]) -> list[str]:
    raw = args.pop("sort", None)
    return [key.strip() for key in raw.split(",") if key.strip()] if raw else list(default)


def validate_seniority(value: str) -> None:
    levels = current_app.config["SENIORITY_LADDER"]
    if value not in levels:
        raise ValidationError(f"Must be one of: {', '.join(levels)}.")


def schema_name(schema) -> str:
    """OpenAPI component names: ``AccountSchema`` -> ``Account``, variants named apart."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__.removesuffix("Schema")
    if not isinstance(schema, type):
        if schema.partial:
            name += "Patch"
        if schema.only:
            name += "Brief"
    return name
