"""Profile traits: from stored or imported raw values to typed values, and back.

Stored traits are JSON (dates as ISO-8601 text). Rules and templates work on native
values, so a profile is coerced once per decision against the declared schema. Imports
and API updates go through the same coercion, so a value that would break a rule is
rejected at the door with the field named.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson

from nextbest.rules import RuleType

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f"}


class TraitError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got true/false")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return value
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got `{value}`") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        return number
    raise ValueError(f"expected a number, got {type(value).__name__}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected true or false, got `{value}`")


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"expected a date-time like 2026-05-31T14:00:00Z, got `{value}`"
            ) from None
    else:
        raise ValueError(f"expected a date-time, got {type(value).__name__}")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    try:
        return result.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is in year 0 in UTC
        raise ValueError(f"`{value}` is outside the years 1–9999 in UTC") from None


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"expected a date like 2026-05-31, got `{value}`") from None
    raise ValueError(f"expected a date, got {type(value).__name__}")


def _list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:  # orjson: nesting too deep for the stack is invalid JSON too
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise ValueError(f"expected a list, got `{value[:100]}`") from None
            if isinstance(parsed, list):
                return parsed
        # CSV-friendly: "CHECKING|SAVINGS"
        return [part.strip() for part in text.split("|") if part.strip()] if text else []
    raise ValueError(f"expected a list, got {type(value).__name__}")


def coerce_value(rtype: RuleType, value: Any) -> Any:
    """Coerce one raw value to its native type; None stays None. Raises ValueError."""
    if value is None:
        return None
    if rtype is RuleType.NUMBER:
        return _number(value)
    if rtype is RuleType.TEXT:
        if isinstance(value, (dict, list, tuple, bool)):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return str(value)
    if rtype is RuleType.BOOL:
        return _bool(value)
    if rtype is RuleType.DATETIME:
        return _datetime(value)
    if rtype is RuleType.DATE:
        return _date(value)
    if rtype is RuleType.LIST_TEXT:
        items = _list(value)
        if not all(isinstance(x, str) for x in items):
            raise ValueError("expected a list of text")
        return frozenset(items)
    if rtype is RuleType.LIST_NUMBER:
        return frozenset(_number(x) for x in _list(value))
    raise ValueError(f"unsupported type {rtype}")


def coerce_traits(types: Mapping[str, RuleType], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed view of stored traits for rules: declared fields only; a stored value that no
    longer fits the schema (after a schema change) reads as null rather than failing."""
    result: dict[str, Any] = {}
    for name, rtype in types.items():
        value = raw.get(name)
        if value is None:
            continue
        try:
            result[name] = coerce_value(rtype, value)
        except ValueError:
            continue
    return result


def validate_traits(
    types: Mapping[str, RuleType],
    raw: Mapping[str, Any],
    *,
    allow_unknown: bool = False,
    source: str | None = None,
    writers: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, Any]:
    """Check an incoming trait update from `source`; return JSON-able values or raise
    TraitError. `writers`: the traits only some sources may write (schema.yaml `sources:`
    of a field)."""
    clean: dict[str, Any] = {}
    for name, value in raw.items():
        rtype = types.get(name)
        if rtype is None:
            if allow_unknown:
                continue
            raise TraitError(name, "not a profile field in schema.yaml")
        allowed = (writers or {}).get(name)
        if allowed is not None and source not in allowed:
            raise TraitError(
                name, f"written only by {', '.join(sorted(allowed))}, not by `{source}`"
            )
        if value is None or (isinstance(value, str) and value == ""):
            clean[name] = None
            continue
        try:
            clean[name] = to_json(coerce_value(rtype, value))
        except ValueError as exc:
            raise TraitError(name, str(exc)) from None
    return clean


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return value
