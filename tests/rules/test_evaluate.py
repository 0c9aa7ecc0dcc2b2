"""Evaluation: operators, null semantics, dates and durations, and every library function."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from nextbest.rules import FUNCTIONS, RuleType, Scope, TypeEnv, compile_rule

T = RuleType
NOW = datetime(2026, 3, 2, 12, 30, tzinfo=UTC)  # a Monday
DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
ENV = TypeEnv(
    profile={
        "age": T.NUMBER,
        "income": T.NUMBER,
        "balance": T.NUMBER,
        "country": T.TEXT,
        "email": T.TEXT,
        "postcode": T.TEXT,
        "vip": T.BOOL,
        "products": T.LIST_TEXT,
        "scores": T.LIST_NUMBER,
        "birthday": T.DATE,
        "contract_end": T.DATE,
        "last_login": T.DATETIME,
    },
    context={"page": T.TEXT, "basket": T.NUMBER},
)


def ev(rule: str, profile: dict[str, Any] | None = None, now: datetime = NOW) -> Any:
    compiled = compile_rule(rule, ENV, expect=None)
    return compiled.evaluate(Scope(profile or {}, {}, now))


def same(actual: Any, expected: Any) -> bool:
    """Equal and of the same kind: True is not 1, 3.0 is not 3, a date is not a datetime."""
    return actual == expected and type(actual) is type(expected)


@pytest.mark.parametrize(
    ("rule", "profile", "expected"),
    [
        ("age >= 18", {"age": 18}, True),
        ("age >= 18", {"age": 17.99}, False),
        ('country == "DE" and age > 20', {"country": "DE", "age": 30}, True),
        ('country == "de"', {"country": "DE"}, False),  # text comparison is case-sensitive
        ('country < "E"', {"country": "DE"}, True),
        ("vip == false", {"vip": False}, True),
        ("vip != true", {"vip": True}, False),
        ("7 / 2", {}, 3.5),
        ("7 % 3", {}, 1),
        ("-7 % 3", {}, 2),  # the remainder takes the divisor's sign
        ("2 + 3 * 4", {}, 14),
        ("(2 + 3) * 4", {}, 20),
        ("-age + 1", {"age": 5}, -4),
        ("income * 0.5", {"income": 3}, 1.5),
        ('country in ["DE", "AT"]', {"country": "AT"}, True),
        ('country not in ["DE", "AT"]', {"country": "AT"}, False),
        ("3 in scores", {"scores": [1, 3]}, True),
        ("3.0 in scores", {"scores": (1, 3)}, True),
        ("4 not in scores", {"scores": frozenset({1, 3})}, True),
        ('"A" in products', {"products": ["A"]}, True),
        ("age in [1, 2.5, -3]", {"age": -3}, True),
        ("true", {}, True),
        ("not vip", {"vip": True}, False),
    ],
)
def test_operators(rule: str, profile: dict[str, Any], expected: Any) -> None:
    assert same(ev(rule, profile), expected)


# --- null ---------------------------------------------------------------------------

NULL_CASES = [
    # comparisons and arithmetic with null give null
    ("age > 1", None),
    ("age == 1", None),
    ("age != 1", None),
    ("1 < age", None),
    ('country < "x"', None),
    ("age + 1", None),
    ("age - age", None),
    ("-age", None),
    ("age * 0", None),
    ("age / 1", None),
    ("age % 2", None),
    ("null + 1", None),
    ("birthday + 1d", None),
    ("last_login - now()", None),
    # not, membership
    ("not vip", None),
    ("not null", None),
    ("age in [1, 2]", None),
    ("age not in [1, 2]", None),
    ('"A" in products', None),
    ('"A" not in products', None),
    # Kleene logic
    ("vip and true", None),
    ("vip and false", False),
    ("false and vip", False),
    ("vip or true", True),
    ("true or vip", True),
    ("vip or false", None),
    ("null and null", None),
    ("null or null", None),
    ("(age > 1) and (country == 'x')", None),
    # is null never gives null
    ("age is null", True),
    ("age is not null", False),
    ("age + 1 is null", True),
    ("vip is null or vip", True),
    # coalesce is the way out
    ("coalesce(age, 0)", 0),
    ("coalesce(age, income, 7)", 7),
    ("coalesce(age, null)", None),
]


@pytest.mark.parametrize(("rule", "expected"), NULL_CASES)
def test_null_semantics(rule: str, expected: Any) -> None:
    assert same(ev(rule, {}), expected)


def test_a_null_rule_is_not_satisfied() -> None:
    scope = Scope({}, {}, NOW)
    for rule in ("age >= 18", "not (age >= 18)", "null", "vip"):
        compiled = compile_rule(rule, ENV)
        assert compiled.evaluate(scope) is None
        assert compiled.test(scope) is False
    assert compile_rule("age is null", ENV).test(scope) is True


def test_fields_given_as_none_are_null_too() -> None:
    assert ev("age is null", {"age": None}) is True
    assert ev("age > 1", {"age": None}) is None


@pytest.mark.parametrize(
    "rule",
    [
        "age / 0",
        "age % 0",
        "age / 0.0",
        "income / (age - age)",
        "1d / 0",
        "birthday + 999999999d",
        "today() - 999999999d",
        "last_login + 999999999d",
        "age * 999999999d",
        "-(999999999d + 23h + 59m + 59s)",
        "round(age, 3) * 1w",
    ],
)
def test_division_by_zero_and_overflow_give_null(rule: str) -> None:
    profile = {"age": 1e300, "income": 5, "birthday": date(2026, 1, 1), "last_login": NOW}
    assert ev(rule, profile) is None


def test_nan_and_huge_integers_do_not_raise() -> None:
    assert ev("(income * 10 - income * 10) * 1d", {"income": 1e308}) is None  # NaN days
    assert ev("income / 3", {"income": 10**400}) is None  # too large for a float
    assert ev("income < 0.5", {"income": 10**400}) is False  # comparing is exact, no float


# --- dates and durations -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("birthday + 1d", date(2026, 1, 11)),
        ("birthday + 36h", date(2026, 1, 11)),  # whole days, truncated toward zero
        ("birthday - 36h", date(2026, 1, 9)),
        ("birthday + -36h", date(2026, 1, 9)),  # the same as `- 36h`
        ("birthday - 12h", date(2026, 1, 10)),
        ("36h + birthday", date(2026, 1, 11)),
        ("birthday - date('2026-01-01')", timedelta(days=9)),
        ("last_login + 90m", datetime(2026, 3, 1, 11, 30, tzinfo=UTC)),
        ("now() - last_login", timedelta(days=1, hours=2, minutes=30)),
        ("last_login - birthday", timedelta(days=50, hours=10)),
        ("2 * 1w - 1d", timedelta(days=13)),
        ("1d / 4", timedelta(hours=6)),
        ("1.5 * 1h", timedelta(minutes=90)),
        ("-30d", timedelta(days=-30)),
        ("now() - last_login > 1d", True),
        ("now() - last_login > 2d", False),
        ("last_login > now() - 30d", True),
        ("birthday < last_login", True),
        ("birthday == date('2026-01-10')", True),
        # a date counts as midnight UTC against a date-time
        ("birthday == datetime('2026-01-10T00:00:00Z')", True),
        ("birthday < datetime('2026-01-10T00:00:01Z')", True),
        ("birthday < datetime('2026-01-10T00:30:00+01:00')", False),  # 23:30 UTC the day before
        ("datetime('2026-01-10T00:00:00Z') <= birthday", True),
    ],
)
def test_dates_and_durations(rule: str, expected: Any) -> None:
    profile = {"birthday": date(2026, 1, 10), "last_login": datetime(2026, 3, 1, 10, tzinfo=UTC)}
    assert same(ev(rule, profile), expected)


# --- functions -------------------------------------------------------------------------

PROFILE = {
    "age": 5,
    "income": 10,
    "balance": -2.5,
    "country": " De ",
    "email": "ann@example.com",
    "postcode": "80331",
    "products": ["CHK", "SAV", "SAV"],
    "scores": (1, 3),
    "birthday": date(2000, 2, 29),
    "contract_end": date(2026, 3, 12),
    "last_login": NOW - timedelta(hours=36),
}

FUNCTION_CASES = [
    ('owns("SAV")', PROFILE, True),
    ('owns("GOLD")', PROFILE, False),
    ('owns("SAV")', {"products": frozenset({"SAV"})}, True),
    ('owns("SAV")', {}, False),  # no products known: owns nothing
    ("owns(country)", {"products": ["X"]}, None),
    ("days_since(last_login)", PROFILE, 1.5),
    ("days_since(birthday)", {"birthday": date(2026, 2, 28)}, 2),  # whole days for a date
    ("days_since(birthday)", {"birthday": date(2026, 3, 9)}, -7),
    ("days_until(contract_end)", PROFILE, 10),
    ("days_until(last_login)", PROFILE, -1.5),
    ("age_in_years(birthday)", PROFILE, 26),
    ("age_in_years(birthday)", {"birthday": date(2000, 3, 2)}, 26),
    ("age_in_years(birthday)", {"birthday": date(2000, 3, 3)}, 25),
    ("age_in_years(last_login)", {"last_login": datetime(2000, 3, 2, 23, tzinfo=UTC)}, 26),
    ("now()", {}, NOW),
    ("today()", {}, date(2026, 3, 2)),
    ("hour_of_day()", {}, 12),
    ("day_of_week()", {}, 1),
    ('date("2026-01-31")', {}, date(2026, 1, 31)),
    ('datetime("2026-01-31T12:00:00Z")', {}, datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ('datetime("2026-01-31T12:00:00+02:00")', {}, datetime(2026, 1, 31, 10, tzinfo=UTC)),
    ('datetime("2026-01-31T12:00:00")', {}, datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ("lower(country)", PROFILE, " de "),
    ("upper(country)", PROFILE, " DE "),
    ("trim(country)", PROFILE, "De"),
    ("len(country)", PROFILE, 4),
    ("len(products)", PROFILE, 3),
    ('len(["A", "A"])', {}, 2),
    ('contains(email, "@example.")', PROFILE, True),
    ('contains(email, "EXAMPLE")', PROFILE, False),
    ('contains(products, "SAV")', PROFILE, True),
    ('contains(products, "SA")', PROFILE, False),  # an item, not a part of one
    ("contains(scores, 3)", PROFILE, True),
    ('starts_with(postcode, "80")', PROFILE, True),
    ('starts_with(postcode, "81")', PROFILE, False),
    ('ends_with(email, ".com")', PROFILE, True),
    ("abs(balance)", PROFILE, 2.5),
    ("abs(-3)", {}, 3),
    ("min(age, income, 7)", PROFILE, 5),
    ("max(age, income, 7)", PROFILE, 10),
    ("round(2.5)", {}, 3),  # halves away from zero, not to even
    ("round(-2.5)", {}, -3),
    ("round(income / 3, 2)", PROFILE, 3.33),
    ("round(2.675, 2)", {}, 2.68),
    ("round(1250, -2)", {}, 1300),
    ("round(7)", {}, 7),
    ("coalesce(age, 0)", PROFILE, 5),
    ("coalesce(null, 2)", {}, 2),
]


@pytest.mark.parametrize(("rule", "profile", "expected"), FUNCTION_CASES)
def test_functions(rule: str, profile: dict[str, Any], expected: Any) -> None:
    assert same(ev(rule, profile), expected), ev(rule, profile)


NULL_ARGUMENTS = [
    "days_since(birthday)",
    "days_until(last_login)",
    "age_in_years(birthday)",
    "lower(country)",
    "upper(country)",
    "trim(country)",
    "len(scores)",
    'contains(email, "x")',
    "contains(scores, age)",
    "contains(products, country)",
    'starts_with(country, "D")',
    'ends_with("x", country)',
    "abs(age)",
    "min(age, 1)",
    "max(1, age)",
    "round(age)",
    "round(1.5, age)",
    "owns(country)",
    "coalesce(age, income)",
]


@pytest.mark.parametrize("rule", NULL_ARGUMENTS)
def test_functions_give_null_for_null_arguments(rule: str) -> None:
    assert ev(rule, {"products": ["A"]}) is None


def test_every_function_is_tested_and_documented() -> None:
    called = {
        name.lower()
        for rule in [c[0] for c in FUNCTION_CASES] + NULL_ARGUMENTS
        for name in re.findall(r"([A-Za-z_]+)\(", rule)
    }
    assert set(FUNCTIONS) <= called, set(FUNCTIONS) - called
    docs = DOCS.read_text()
    for name, spec in FUNCTIONS.items():
        assert f"`{spec.signature}`" in docs, f"docs/rules.md lacks the signature of {name}"
        assert f"`{spec.example}`" in docs, f"docs/rules.md lacks the example of {name}"
        assert compile_rule(spec.example, ENV).type is T.BOOL


def test_time_comes_from_the_scope_not_the_clock() -> None:
    then = datetime(2001, 9, 9, 23, 30, tzinfo=UTC)  # a Sunday
    assert ev("now()", now=then) == then
    assert ev("today()", now=then) == date(2001, 9, 9)
    assert ev("hour_of_day()", now=then) == 23
    assert ev("day_of_week()", now=then) == 7
    assert ev("days_since(birthday)", {"birthday": date(2001, 9, 1)}, now=then) == 8


def test_calendar_functions_use_utc_even_for_an_offset_now() -> None:
    tokyo = datetime(2026, 3, 3, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # 23:00 UTC, 2 March
    assert ev("today()", now=tokyo) == date(2026, 3, 2)
    assert ev("hour_of_day()", now=tokyo) == 23
    assert ev("day_of_week()", now=tokyo) == 1
    assert ev("days_since(birthday)", {"birthday": date(2026, 3, 1)}, now=tokyo) == 1


def test_context_fields() -> None:
    rule = compile_rule('context.page == "cards" and context.basket > 10', ENV)
    assert rule.test(Scope({}, {"page": "cards", "basket": 11}, NOW))
    assert not rule.test(Scope({}, {"page": "cards"}, NOW))
    assert rule.evaluate(Scope({}, {"page": "cards"}, NOW)) is None


def test_a_compiled_rule_is_reusable_across_scopes() -> None:
    rule = compile_rule("age >= 18", ENV)
    results = [rule.test(Scope({"age": a}, {}, NOW)) for a in (17, 18, None, 30)]
    assert results == [False, True, False, True]
    assert rule.text == "age >= 18" and rule.key == "age >= 18"
