"""The rule language through its public surface: compile_rule, parse, Scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from nextbest.rules import (
    RuleError,
    RuleSyntaxError,
    RuleType,
    RuleTypeError,
    Scope,
    TypeEnv,
    compile_rule,
    parse,
    parse_type,
)

T = RuleType
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ENV = TypeEnv(
    profile={
        "age": T.NUMBER,
        "income": T.NUMBER,
        "country": T.TEXT,
        "vip": T.BOOL,
        "products": T.LIST_TEXT,
        "scores": T.LIST_NUMBER,
        "birthday": T.DATE,
        "last_login": T.DATETIME,
        "gender": T.TEXT,
    },
    context={"page": T.TEXT, "basket": T.NUMBER},
    protected=frozenset({"gender"}),
)


def ev(
    rule: str,
    profile: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    expect: RuleType | None = None,
) -> Any:
    return compile_rule(rule, ENV, expect=expect).evaluate(Scope(profile or {}, context or {}, NOW))


@pytest.mark.parametrize(
    ("rule", "profile", "expected"),
    [
        ("age >= 18", {"age": 18}, True),
        ("age >= 18", {"age": 17.9}, False),
        ("age >= 18", {}, None),
        ('country == "DE" and age > 20', {"country": "DE", "age": 30}, True),
        ("country == 'DE' or vip", {"country": "FR", "vip": True}, True),
        ('not owns("GOLD")', {"products": frozenset({"GOLD"})}, False),
        ('not owns("GOLD")', {}, True),  # no products known: owns nothing
        ('country in ["DE", "AT"]', {"country": "AT"}, True),
        ('country not in ["DE", "AT"]', {"country": "AT"}, False),
        ("3 in scores", {"scores": frozenset({1, 3})}, True),
        ("income / 12 > 1000", {"income": 24000}, True),
        ("income / 0 > 1", {"income": 5}, None),  # division by zero is null
        ("income % 7 == 3", {"income": 10}, True),
        ("-age < 0", {"age": 5}, True),
        ("age is null", {}, True),
        ("age is not null", {"age": 1}, True),
        ("coalesce(age, 0) >= 0", {}, True),
        ("days_since(last_login) < 7", {"last_login": NOW - timedelta(days=3)}, True),
        ("days_since(birthday) > 365", {"birthday": date(2020, 1, 1)}, True),
        ("age_in_years(birthday) == 6", {"birthday": date(2020, 3, 2)}, True),
        ("age_in_years(birthday) == 6", {"birthday": date(2020, 3, 3)}, False),
        ("last_login > now() - 30d", {"last_login": NOW - timedelta(days=29)}, True),
        ("birthday < today()", {"birthday": date(2026, 3, 1)}, True),
        ('birthday >= date("2026-01-01")', {"birthday": date(2026, 3, 1)}, True),
        ("birthday < last_login", {"birthday": date(2026, 3, 1), "last_login": NOW}, True),
        ('lower(country) == "de"', {"country": "DE"}, True),
        ('contains(country, "E")', {"country": "DE"}, True),
        ('contains(products, "X")', {"products": frozenset({"X"})}, True),
        ('starts_with(upper(trim(country)), "D")', {"country": " de "}, True),
        ("len(products) == 2", {"products": frozenset({"A", "B"})}, True),
        ("max(age, 10) == 10 and min(age, 10) == 5 and abs(-age) == 5", {"age": 5}, True),
        ("round(income / 3, 2) == 3.33", {"income": 10}, True),
        ('context.page == "cards"', {}, None),
        ("context.basket > 100", {}, None),
        ("NOT vip AND age > 1", {"vip": False, "age": 2}, True),
        ("(vip or age > 1) and (not vip)", {"vip": None, "age": 2}, None),
        ("false and age > 1", {}, False),
        ("true or age > 1", {}, True),
    ],
)
def test_evaluation(rule: str, profile: dict[str, Any], expected: Any) -> None:
    assert ev(rule, profile) == expected


def test_context_fields() -> None:
    assert ev('context.page == "cards"', context={"page": "cards"}) is True
    rule = compile_rule('context.page == "cards" and age > 1', ENV)
    assert rule.context_fields == {"page"} and rule.fields == {"age"}


def test_null_counts_as_not_satisfied() -> None:
    rule = compile_rule("age >= 18", ENV)
    assert rule.test(Scope({}, {}, NOW)) is False
    assert compile_rule("not (age >= 18)", ENV).test(Scope({}, {}, NOW)) is False


def test_durations_and_date_arithmetic() -> None:
    assert ev("last_login + 1d", {"last_login": NOW}, expect=None) == NOW + timedelta(days=1)
    assert ev("birthday + 36h", {"birthday": date(2026, 1, 1)}, expect=None) == date(2026, 1, 2)
    assert ev("today() - birthday", {"birthday": date(2026, 3, 1)}, expect=None) == timedelta(
        days=1
    )
    assert ev("2 * 1w", expect=None) == timedelta(days=14)
    assert ev("now() - last_login > 12h", {"last_login": NOW - timedelta(hours=13)}) is True


def test_value_expressions() -> None:
    rule = compile_rule("income * 0.002 + 5", ENV, expect=T.NUMBER)
    assert rule.type is T.NUMBER
    assert rule.evaluate(Scope({"income": 1000}, {}, NOW)) == pytest.approx(7.0)


def test_canonical_key_ignores_spacing_and_keyword_case() -> None:
    a = compile_rule("age>=18 AND country=='DE'", ENV)
    b = compile_rule('age >= 18 and country == "DE"', ENV)
    assert a.key == b.key
    assert compile_rule("age >= 19", ENV).key != b.key


@pytest.mark.parametrize(
    ("rule", "kind", "message", "column"),
    [
        ('age > "x"', RuleTypeError, "cannot compare a number with text", 5),
        ("agee > 1", RuleTypeError, "unknown field `agee` — did you mean `age`?", 1),
        ("page == 'x'", RuleTypeError, "did you mean `context.page`?", 1),
        ("context.pag == 'x'", RuleTypeError, "unknown context field `context.pag`", 1),
        ('own("X")', RuleTypeError, "unknown function `own` — did you mean `owns`?", 1),
        ('owns("X", "Y")', RuleTypeError, "function `owns` takes 1 argument, got 2", 1),
        ("lower(age)", RuleTypeError, "argument 1 must be text", 1),
        ("age and vip", RuleTypeError, "`and` needs true/false on both sides, got a number", 1),
        ("vip < true", RuleTypeError, "cannot order", 5),
        ('gender == "f"', RuleTypeError, "protected attribute", 1),
        ("age = 3", RuleSyntaxError, "use `==` to compare", 5),
        ("age > 1 < 2", RuleSyntaxError, "cannot be chained", 9),
        ("(age > 1", RuleSyntaxError, "unclosed parenthesis", 1),
        ("age > 1)", RuleSyntaxError, "unexpected `)`", 8),
        ('country == "DE', RuleSyntaxError, "unclosed string", 12),
        ("age > 1 and", RuleSyntaxError, "expected a value after `and`", 12),
        ("age $ 1", RuleSyntaxError, "unknown character `$`", 5),
        ("", RuleSyntaxError, "empty", 1),
        ('date("2026-02-30") < today()', RuleTypeError, "not a valid date", 1),
        ('country in ["DE", 1]', RuleTypeError, "same type", 19),
        ("age in products", RuleTypeError, "cannot look for a number in a list of text", 5),
        ("age + 1", RuleTypeError, "expected a condition", 1),
    ],
)
def test_errors_say_what_and_where(
    rule: str, kind: type[RuleError], message: str, column: int
) -> None:
    with pytest.raises(kind) as info:
        compile_rule(rule, ENV)
    assert message in info.value.message
    assert info.value.column == column
    assert f"column {column}" in str(info.value)


def test_error_position_on_a_later_line() -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_rule("age > 1\nand country > 2", ENV)
    assert (info.value.line, info.value.column) == (2, 13)


def test_owns_needs_products_field() -> None:
    with pytest.raises(RuleTypeError, match="needs a profile field `products`"):
        compile_rule('owns("X")', TypeEnv(profile={"age": T.NUMBER}))


def test_nesting_and_length_limits() -> None:
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        parse("(" * 100 + "1" + ")" * 100)
    with pytest.raises(RuleSyntaxError, match="more than 256 operators"):
        parse(" and ".join(["vip"] * 300))
    with pytest.raises(RuleSyntaxError, match="longer than"):
        parse("a" * 10_001)


def test_long_and_chain_evaluates_without_recursion() -> None:
    rule = compile_rule(" and ".join(["age > 1"] * 200), ENV)
    assert rule.test(Scope({"age": 5}, {}, NOW))


def test_parse_type() -> None:
    assert parse_type("integer") is T.NUMBER
    assert parse_type("List<Text>") is T.LIST_TEXT
    with pytest.raises(ValueError, match="unknown type `numbr`"):
        parse_type("numbr")
