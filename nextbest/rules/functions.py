"""The fixed function library of the rule language.

Each entry type-checks its arguments at compile time and builds a closure. Every function
returns null when an argument it needs is null (except `coalesce` and `owns`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from nextbest.rules.ast import Literal, Node
from nextbest.rules.types import ELEMENT, RuleType, TypeEnv

T = RuleType
Fn = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], Any]
Arg = tuple[RuleType, Fn]
Builder = Callable[[Sequence[Node], Sequence[Arg], TypeEnv], tuple[RuleType, Fn]]


@dataclass(frozen=True)
class FunctionSpec:
    arity: tuple[int, int | None]
    build: Builder
    signature: str
    doc: str


def _need(arg: Arg, allowed: set[RuleType], what: str, position: int) -> None:
    if arg[0] not in allowed and arg[0] != T.NULL:
        raise TypeError(f"argument {position} must be {what}, got {arg[0].value}")


def _unary(
    allowed: set[RuleType], what: str, result: RuleType | None, impl: Callable[[Any, datetime], Any]
) -> Builder:
    def build(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
        _need(args[0], allowed, what, 1)
        f = args[0][1]

        def call(p: Any, c: Any, n: datetime) -> Any:
            v = f(p, c, n)
            return None if v is None else impl(v, n)

        return (result or args[0][0]), call

    return build


def _to_date(v: Any) -> date:
    return v.date() if isinstance(v, datetime) else v


def _days_since(v: Any, now: datetime) -> float:
    if isinstance(v, datetime):
        return (now - v).total_seconds() / 86400
    return float((now.date() - v).days)


def _age(v: Any, now: datetime) -> int:
    born = _to_date(v)
    today = now.date()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _owns(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    if env.profile.get("products") != T.LIST_TEXT:
        raise TypeError("owns() needs a profile field `products` of type list<text>")
    _need(args[0], {T.TEXT}, "text", 1)
    f = args[0][1]

    def owns(p: Mapping[str, Any], c: Any, n: datetime) -> Any:
        code = f(p, c, n)
        if code is None:
            return None
        products: Any = p.get("products")
        return bool(products) and code in products  # no products known: owns nothing

    return T.BOOL, owns


def _literal_date(kind: RuleType) -> Builder:
    def build(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
        node = nodes[0]
        if not isinstance(node, Literal) or node.kind != "text":
            raise TypeError('needs a quoted literal like "2026-01-31"')
        try:
            if kind == T.DATE:
                value: Any = date.fromisoformat(node.value)
            else:
                value = datetime.fromisoformat(node.value.replace("Z", "+00:00"))
                if value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
        except ValueError:
            raise TypeError(f"`{node.value}` is not a valid {kind.value}") from None
        return kind, lambda p, c, n: value

    return build


def _text_pair(impl: Callable[[str, str], bool]) -> Builder:
    def build(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
        _need(args[0], {T.TEXT}, "text", 1)
        _need(args[1], {T.TEXT}, "text", 2)
        f, g = args[0][1], args[1][1]

        def call(p: Any, c: Any, n: datetime) -> Any:
            a = f(p, c, n)
            b = g(p, c, n)
            return None if a is None or b is None else impl(a, b)

        return T.BOOL, call

    return build


def _contains(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    hay, needle = args[0][0], args[1][0]
    if hay == T.TEXT:
        _need(args[1], {T.TEXT}, "text", 2)
    elif hay in ELEMENT:
        _need(args[1], {ELEMENT[hay]}, ELEMENT[hay].value, 2)
    elif hay != T.NULL:
        raise TypeError(f"argument 1 must be text or a list, got {hay.value}")
    del needle
    f, g = args[0][1], args[1][1]

    def call(p: Any, c: Any, n: datetime) -> Any:
        a = f(p, c, n)
        b = g(p, c, n)
        return None if a is None or b is None else b in a

    return T.BOOL, call


def _numbers(name: str, impl: Callable[..., Any]) -> Builder:
    def build(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
        for i, arg in enumerate(args, start=1):
            _need(arg, {T.NUMBER}, "a number", i)
        fns = [a[1] for a in args]

        def call(p: Any, c: Any, n: datetime) -> Any:
            values = [f(p, c, n) for f in fns]
            if any(v is None for v in values):
                return None
            return impl(*values)

        return T.NUMBER, call

    return build


def _round(value: float, digits: float = 0) -> float:
    return round(value, int(digits)) if math.isfinite(value) else value


def _coalesce(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    types = {a[0] for a in args} - {T.NULL}
    if len(types) > 1:
        raise TypeError("all arguments must have the same type, got " + ", ".join(sorted(types)))
    result = types.pop() if types else T.NULL
    fns = tuple(a[1] for a in args)

    def call(p: Any, c: Any, n: datetime) -> Any:
        for f in fns:
            v = f(p, c, n)
            if v is not None:
                return v
        return None

    return result, call


def _now(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    return T.DATETIME, lambda p, c, n: n


def _today(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    return T.DATE, lambda p, c, n: n.astimezone(UTC).date()


def _hour(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    return T.NUMBER, lambda p, c, n: n.astimezone(UTC).hour


def _weekday(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    return T.NUMBER, lambda p, c, n: n.astimezone(UTC).isoweekday()


DATES = {T.DATE, T.DATETIME}
FUNCTIONS: dict[str, FunctionSpec] = {
    "owns": FunctionSpec(
        (1, 1),
        _owns,
        "owns(code: text) -> bool",
        "true if `code` is in the profile field `products`",
    ),
    "days_since": FunctionSpec(
        (1, 1),
        _unary(DATES, "a date", T.NUMBER, _days_since),
        "days_since(d: date|datetime) -> number",
        "days from `d` to now (fractional for date-times)",
    ),
    "days_until": FunctionSpec(
        (1, 1),
        _unary(DATES, "a date", T.NUMBER, lambda v, n: -_days_since(v, n)),
        "days_until(d: date|datetime) -> number",
        "days from now to `d`",
    ),
    "age_in_years": FunctionSpec(
        (1, 1),
        _unary(DATES, "a date", T.NUMBER, _age),
        "age_in_years(d: date|datetime) -> number",
        "completed years between `d` and now",
    ),
    "now": FunctionSpec((0, 0), _now, "now() -> datetime", "the decision time (UTC)"),
    "today": FunctionSpec((0, 0), _today, "today() -> date", "the decision date (UTC)"),
    "hour_of_day": FunctionSpec((0, 0), _hour, "hour_of_day() -> number", "0–23, UTC"),
    "day_of_week": FunctionSpec(
        (0, 0), _weekday, "day_of_week() -> number", "1 = Monday … 7 = Sunday"
    ),
    "date": FunctionSpec(
        (1, 1),
        _literal_date(T.DATE),
        'date("2026-01-31") -> date',
        "a date literal, checked when the rule is loaded",
    ),
    "datetime": FunctionSpec(
        (1, 1),
        _literal_date(T.DATETIME),
        'datetime("2026-01-31T12:00:00Z") -> datetime',
        "a date-time literal (UTC unless an offset is given)",
    ),
    "lower": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.lower()),
        "lower(t: text) -> text",
        "lower case",
    ),
    "upper": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.upper()),
        "upper(t: text) -> text",
        "upper case",
    ),
    "trim": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.strip()),
        "trim(t: text) -> text",
        "without surrounding spaces",
    ),
    "len": FunctionSpec(
        (1, 1),
        _unary(
            {T.TEXT, T.LIST_TEXT, T.LIST_NUMBER}, "text or a list", T.NUMBER, lambda v, n: len(v)
        ),
        "len(x: text|list) -> number",
        "number of characters or items",
    ),
    "contains": FunctionSpec(
        (2, 2),
        _contains,
        "contains(x: text|list, item) -> bool",
        "substring of a text, or item of a list",
    ),
    "starts_with": FunctionSpec(
        (2, 2),
        _text_pair(lambda a, b: a.startswith(b)),
        "starts_with(t: text, prefix: text) -> bool",
        "prefix test",
    ),
    "ends_with": FunctionSpec(
        (2, 2),
        _text_pair(lambda a, b: a.endswith(b)),
        "ends_with(t: text, suffix: text) -> bool",
        "suffix test",
    ),
    "abs": FunctionSpec((1, 1), _numbers("abs", abs), "abs(x: number) -> number", "absolute value"),
    "min": FunctionSpec((2, None), _numbers("min", min), "min(x, y, …) -> number", "smallest"),
    "max": FunctionSpec((2, None), _numbers("max", max), "max(x, y, …) -> number", "largest"),
    "round": FunctionSpec(
        (1, 2),
        _numbers("round", _round),
        "round(x[, digits]) -> number",
        "rounded to `digits` decimals (default 0)",
    ),
    "coalesce": FunctionSpec(
        (1, None), _coalesce, "coalesce(a, b, …)", "the first argument that is not null"
    ),
}
