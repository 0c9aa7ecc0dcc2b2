"""The fixed function library of the rule language.

Each entry type-checks its arguments at compile time and builds a closure. Every function
returns null when an argument it needs is null (except `coalesce`, and `owns` when the
profile has no products). None of them reads the system clock: time is the decision's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from nextbest.rules.ast import Literal, Node
from nextbest.rules.types import ELEMENT, RuleType, TypeEnv, describe

T = RuleType
Fn = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], Any]
Arg = tuple[RuleType, Fn]
Builder = Callable[[Sequence[Node], Sequence[Arg], TypeEnv], tuple[RuleType, Fn]]


class FunctionError(Exception):
    """A call that does not type-check; `argument` is the 1-based argument at fault."""

    def __init__(self, message: str, argument: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument


@dataclass(frozen=True)
class FunctionSpec:
    arity: tuple[int, int | None]
    build: Builder
    signature: str
    doc: str
    example: str  # a rule that compiles; docs/rules.md shows it, tests compile it


def _need(arg: Arg, allowed: set[RuleType], what: str, position: int) -> None:
    if arg[0] not in allowed and arg[0] != T.NULL:
        raise FunctionError(f"must be {what}, got {describe(arg[0])}", position)


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


def _utc_date(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _days_since(v: Any, now: datetime) -> float:
    if isinstance(v, datetime):
        return (now - v).total_seconds() / 86400
    days: int = (_utc_date(now) - v).days  # whole days between calendar dates
    return days


def _age(v: Any, now: datetime) -> int:
    born = _to_date(v)
    today = _utc_date(now)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _owns(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    if env.profile.get("products") != T.LIST_TEXT:
        raise FunctionError("owns() needs a profile field `products` of type list<text>")
    if "products" in env.protected:
        raise FunctionError(
            "owns() reads `products`, which is a protected attribute and cannot be used in a rule"
        )
    _need(args[0], {T.TEXT}, "text", 1)
    f = args[0][1]

    def owns(p: Mapping[str, Any], c: Any, n: datetime) -> Any:
        code = f(p, c, n)
        if code is None:
            return None
        products: Any = p.get("products")
        return bool(products) and code in products  # no products known: owns nothing

    return T.BOOL, owns


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EXAMPLES = {T.DATE: '"2026-01-31"', T.DATETIME: '"2026-01-31T12:00:00Z"'}


def _literal_date(kind: RuleType) -> Builder:
    def build(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
        node = nodes[0]
        example = _EXAMPLES[kind]
        if not isinstance(node, Literal) or node.kind != "text":
            raise FunctionError(f"must be a quoted literal like {example}", 1)
        try:
            if kind == T.DATE:
                if not _ISO_DATE.fullmatch(node.value):
                    raise ValueError(node.value)
                value: Any = date.fromisoformat(node.value)
            else:
                value = datetime.fromisoformat(node.value.replace("Z", "+00:00"))
                if value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                value = value.astimezone(UTC)
        except ValueError:
            raise FunctionError(
                f"`{node.value}` is not a valid {kind.value}; write it like {example}"
            ) from None
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
        _need(args[1], {ELEMENT[hay]}, describe(ELEMENT[hay]), 2)
    elif hay != T.NULL:
        raise FunctionError(f"must be text or a list, got {describe(hay)}", 1)
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


_ROUNDING = Context(prec=1000, rounding=ROUND_HALF_UP)  # room for 1e308 at 400 places


def _round(value: float, digits: float = 0) -> float:
    """Halves round away from zero (2.5 → 3, as on a receipt), not to even as `round()`."""
    if not math.isfinite(digits):
        return value
    places = int(max(-400.0, min(400.0, digits)))
    if isinstance(value, int):
        if places >= 0:
            return value
        step: int = 10**-places
        whole, rest = divmod(abs(value), step)
        rounded: int = (whole + (2 * rest >= step)) * step
        return rounded if value >= 0 else -rounded
    if not math.isfinite(value) or (abs(value) >= 2**53 and places >= 0):
        return value  # no fractional part left to round
    # repr() gives the decimal the marketer wrote or saw: 2.675 rounds to 2.68
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), context=_ROUNDING)
    return float(exact) if places > 0 else int(exact)


def _coalesce(nodes: Sequence[Node], args: Sequence[Arg], env: TypeEnv) -> tuple[RuleType, Fn]:
    types = {a[0] for a in args} - {T.NULL}
    if len(types) > 1:
        shown = " and ".join(sorted(describe(t) for t in types))
        raise FunctionError(f"coalesce() needs arguments of one type, got {shown}")
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
_DATE_WHAT = "a date or date-time"
FUNCTIONS: dict[str, FunctionSpec] = {
    "owns": FunctionSpec(
        (1, 1),
        _owns,
        "owns(code: text) -> bool",
        "`code` is in the profile field `products` (needs `products: list<text>`; a profile "
        "without products owns nothing)",
        'not owns("GOLD_CARD")',
    ),
    "days_since": FunctionSpec(
        (1, 1),
        _unary(DATES, _DATE_WHAT, T.NUMBER, _days_since),
        "days_since(d: date|datetime) -> number",
        "days from `d` to the decision time; whole days for a date, fractional for a date-time",
        "days_since(last_login) > 30",
    ),
    "days_until": FunctionSpec(
        (1, 1),
        _unary(DATES, _DATE_WHAT, T.NUMBER, lambda v, n: -_days_since(v, n)),
        "days_until(d: date|datetime) -> number",
        "days from the decision time to `d` (negative once `d` has passed)",
        "days_until(contract_end) <= 60",
    ),
    "age_in_years": FunctionSpec(
        (1, 1),
        _unary(DATES, _DATE_WHAT, T.NUMBER, _age),
        "age_in_years(d: date|datetime) -> number",
        "completed years from `d` to the decision date",
        "age_in_years(birthday) >= 18",
    ),
    "now": FunctionSpec(
        (0, 0),
        _now,
        "now() -> datetime",
        "the decision time (UTC)",
        "last_login > now() - 12h",
    ),
    "today": FunctionSpec(
        (0, 0),
        _today,
        "today() -> date",
        "the decision date (UTC)",
        "contract_end >= today()",
    ),
    "hour_of_day": FunctionSpec(
        (0, 0),
        _hour,
        "hour_of_day() -> number",
        "hour of the decision time, 0–23, UTC",
        "hour_of_day() >= 8 and hour_of_day() < 20",
    ),
    "day_of_week": FunctionSpec(
        (0, 0),
        _weekday,
        "day_of_week() -> number",
        "weekday of the decision date, 1 = Monday … 7 = Sunday (UTC)",
        "day_of_week() <= 5",
    ),
    "date": FunctionSpec(
        (1, 1),
        _literal_date(T.DATE),
        "date(literal: text) -> date",
        "a date written YYYY-MM-DD; only a quoted literal, checked when the rule is loaded",
        'birthday < date("2000-01-01")',
    ),
    "datetime": FunctionSpec(
        (1, 1),
        _literal_date(T.DATETIME),
        "datetime(literal: text) -> datetime",
        "an ISO 8601 date-time; only a quoted literal, UTC unless it names an offset",
        'last_login >= datetime("2026-01-31T12:00:00Z")',
    ),
    "lower": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.lower()),
        "lower(t: text) -> text",
        "`t` in lower case",
        'lower(country) == "de"',
    ),
    "upper": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.upper()),
        "upper(t: text) -> text",
        "`t` in upper case",
        'upper(country) == "DE"',
    ),
    "trim": FunctionSpec(
        (1, 1),
        _unary({T.TEXT}, "text", T.TEXT, lambda v, n: v.strip()),
        "trim(t: text) -> text",
        "`t` without leading and trailing spaces",
        'trim(email) != ""',
    ),
    "len": FunctionSpec(
        (1, 1),
        _unary(
            {T.TEXT, T.LIST_TEXT, T.LIST_NUMBER}, "text or a list", T.NUMBER, lambda v, n: len(v)
        ),
        "len(x: text|list) -> number",
        "number of characters of a text, or of items of a list",
        "len(products) >= 2",
    ),
    "contains": FunctionSpec(
        (2, 2),
        _contains,
        "contains(x: text|list, item) -> bool",
        "`item` is part of the text `x` (case-sensitive), or an item of the list `x`",
        'contains(email, "@example.com")',
    ),
    "starts_with": FunctionSpec(
        (2, 2),
        _text_pair(lambda a, b: a.startswith(b)),
        "starts_with(t: text, prefix: text) -> bool",
        "`t` begins with `prefix` (case-sensitive)",
        'starts_with(postcode, "80")',
    ),
    "ends_with": FunctionSpec(
        (2, 2),
        _text_pair(lambda a, b: a.endswith(b)),
        "ends_with(t: text, suffix: text) -> bool",
        "`t` ends with `suffix` (case-sensitive)",
        'ends_with(email, ".de")',
    ),
    "abs": FunctionSpec(
        (1, 1),
        _numbers("abs", abs),
        "abs(x: number) -> number",
        "`x` without its sign",
        "abs(balance) > 1000",
    ),
    "min": FunctionSpec(
        (2, None),
        _numbers("min", min),
        "min(x: number, y: number, …) -> number",
        "the smallest argument; null if any is null",
        "min(balance, income) > 0",
    ),
    "max": FunctionSpec(
        (2, None),
        _numbers("max", max),
        "max(x: number, y: number, …) -> number",
        "the largest argument; null if any is null",
        "max(balance, 0) * 0.01 > 5",
    ),
    "round": FunctionSpec(
        (1, 2),
        _numbers("round", _round),
        "round(x: number[, digits: number]) -> number",
        "`x` rounded to `digits` decimals (default 0); halves round away from zero",
        "round(income / 12, 2) >= 2500",
    ),
    "coalesce": FunctionSpec(
        (1, None),
        _coalesce,
        "coalesce(a, b, …) -> the arguments' type",
        "the first argument that is not null; all arguments must have one type",
        "coalesce(balance, 0) >= 0",
    ),
}
