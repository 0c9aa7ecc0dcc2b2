"""The type checker: result types, what a rule reads, and errors a marketer can act on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nextbest.errors import NextbestError
from nextbest.rules import (
    RuleError,
    RuleSyntaxError,
    RuleType,
    RuleTypeError,
    TypeEnv,
    compile_rule,
    parse_type,
)

T = RuleType
ENV = TypeEnv(
    profile={
        "age": T.NUMBER,
        "income": T.NUMBER,
        "country": T.TEXT,
        "email": T.TEXT,
        "vip": T.BOOL,
        "products": T.LIST_TEXT,
        "scores": T.LIST_NUMBER,
        "birthday": T.DATE,
        "last_login": T.DATETIME,
        "gender": T.TEXT,
        "ethnicity": T.TEXT,
    },
    context={"page": T.TEXT, "basket": T.NUMBER, "since": T.DURATION},
    protected=frozenset({"gender", "ethnicity", "religion"}),
)


@pytest.mark.parametrize(
    ("rule", "rtype"),
    [
        ("age >= 18", T.BOOL),
        ("age + 1", T.NUMBER),
        ("income * 0.002", T.NUMBER),
        ("age % 7", T.NUMBER),
        ("-age", T.NUMBER),
        ("country", T.TEXT),
        ("lower(country)", T.TEXT),
        ("birthday + 1d", T.DATE),
        ("birthday - 2w", T.DATE),
        ("1d + birthday", T.DATE),
        ("last_login + 12h", T.DATETIME),
        ("last_login - last_login", T.DURATION),
        ("birthday - birthday", T.DURATION),
        ("last_login - birthday", T.DURATION),
        ("now() - last_login", T.DURATION),
        ("today()", T.DATE),
        ("2 * 1w", T.DURATION),
        ("1w * 2", T.DURATION),
        ("1w / 2", T.DURATION),
        ("1w + context.since", T.DURATION),
        ("-30d", T.DURATION),
        ('["A", "B"]', T.LIST_TEXT),
        ("[1, -2.5]", T.LIST_NUMBER),
        ("products", T.LIST_TEXT),
        ("coalesce(age, 0)", T.NUMBER),
        ("coalesce(null, country)", T.TEXT),
        ("coalesce(birthday, today())", T.DATE),
        ("null", T.NULL),
        ("age + null", T.NUMBER),
        ("days_since(birthday)", T.NUMBER),
        ('date("2026-01-31")', T.DATE),
        ('datetime("2026-01-31T10:00:00+01:00")', T.DATETIME),
        ("len(products)", T.NUMBER),
        ("round(income / 3, 2)", T.NUMBER),
    ],
)
def test_result_types(rule: str, rtype: RuleType) -> None:
    assert compile_rule(rule, ENV, expect=None).type is rtype


def test_expected_result_type() -> None:
    assert compile_rule("income * 0.002 + 5", ENV, expect=T.NUMBER).type is T.NUMBER
    assert compile_rule("age", ENV, expect=T.NUMBER).type is T.NUMBER  # integers are numbers
    # a null literal satisfies any expected type, and takes that type
    assert compile_rule("null", ENV).type is T.BOOL
    assert compile_rule("null", ENV, expect=T.NUMBER).type is T.NUMBER


@pytest.mark.parametrize(
    ("rule", "expect", "message"),
    [
        ("age + 1", T.BOOL, "expected a condition (true/false), but this is a number"),
        ("  country", T.BOOL, "expected a condition (true/false), but this is text"),
        ("age > 1", T.NUMBER, "expected a number, but this is true/false"),
        ("birthday", T.NUMBER, "expected a number, but this is a date"),
    ],
)
def test_wrong_result_type(rule: str, expect: RuleType, message: str) -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_rule(rule, ENV, expect=expect)
    assert info.value.message == message
    assert info.value.offset == len(rule) - len(rule.lstrip())  # the whole rule is at fault


def test_fields_it_reads() -> None:
    rule = compile_rule('age > 1 and context.page == "x" and owns("A") and context.basket > 2', ENV)
    assert rule.fields == frozenset({"age", "products"})
    assert rule.context_fields == frozenset({"page", "basket"})
    assert compile_rule("true", ENV).fields == frozenset()


@pytest.mark.parametrize(
    ("rule", "message", "column"),
    [
        # comparisons
        ('age > "x"', "cannot compare a number with text", 5),
        ("country == 18", "cannot compare text with a number", 9),
        ("vip == 1", "cannot compare true/false with a number", 5),
        ("birthday < 30d", "cannot compare a date with a duration", 10),
        ("vip < true", "`<` cannot order true/false; use == or !=", 5),
        ("products == products", "`==` cannot compare lists", 10),
        ("age == null", "`== null` is never true; write `age is null` instead", 5),
        ("null != country", "`!= null` is never true; write `country is not null`", 6),
        # logic
        ("age and vip", "`and` needs true/false on both sides, got a number", 1),
        ("vip or country", "`or` needs true/false on both sides, got text", 8),
        ("vip and vip and 3", "`and` needs true/false on both sides, got a number", 17),
        ("not age", "`not` needs true/false, got a number", 1),
        # membership
        ('country in "DE"', "`in` needs a list on the right, got text; to search text", 12),
        ("age in products", "cannot look for a number in a list of text", 5),
        ("country not in [1, 2]", "cannot look for text in a list of numbers", 9),
        # arithmetic
        ('country + "x"', "cannot use `+` on text and text", 9),
        ("birthday + 1", "cannot use `+` on a date and a number", 10),
        ("birthday + last_login", "cannot use `+` on a date and a date-time", 10),
        ("1d % 2", "cannot use `%` on a duration and a number", 4),
        ("2 / 1d", "cannot use `/` on a number and a duration", 3),
        ("-country", "cannot negate text", 1),
        ("-vip", "cannot negate true/false", 1),
        # lists
        ("age in []", "a list needs at least one item", 8),
        ('country in ["DE", 1]', "all items of a list must have the same type", 19),
        ("age in [1, age]", "list items must be plain numbers or texts", 12),
        ("vip in [true]", "list items must be plain numbers or texts", 9),
        ("age in [1, null]", "list items must be plain numbers or texts", 12),
    ],
)
def test_type_errors(rule: str, message: str, column: int) -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_rule(rule, ENV, expect=None)
    assert message in info.value.message
    assert info.value.column == column, str(info.value)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("agee > 1", "unknown field `agee` — did you mean `age`?"),
        ("incme > 1", "unknown field `incme` — did you mean `income`?"),
        ("zzz > 1", "unknown field `zzz`"),
        ("page == 'x'", "unknown field `page` — did you mean `context.page`?"),
        (
            "context.pag == 'x'",
            "unknown context field `context.pag` — did you mean `context.page`?",
        ),
        (
            "context.age > 1",
            "unknown context field `context.age` — did you mean the profile field `age`?",
        ),
        ("context.zzz > 1", "unknown context field `context.zzz`"),
        ("today > birthday", "unknown field `today` — `today` is a function: write `today()`"),
        ("Age > 1", "unknown field `Age` — did you mean `age`?"),
    ],
)
def test_unknown_fields(rule: str, message: str) -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_rule(rule, ENV)
    assert info.value.message == message
    assert info.value.column == 1


def test_protected_fields_cannot_be_used_anywhere() -> None:
    for rule in ('gender == "f"', 'vip or lower(gender) == "f"', "religion is null"):
        with pytest.raises(RuleTypeError) as info:
            compile_rule(rule, ENV)
        assert "is a protected attribute and cannot be used in a rule" in info.value.message
    # and they are never suggested
    with pytest.raises(RuleTypeError) as info:
        compile_rule('gendr == "f"', ENV)
    assert "gender" not in info.value.message.replace("gendr", "")


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('own("X")', "unknown function `own` — did you mean `owns`?"),
        ("day_since(birthday) > 1", "unknown function `day_since` — did you mean `days_since`?"),
        ("frobnicate(1)", "unknown function `frobnicate`"),
        ("age(1) > 1", "unknown function `age`"),
        ('owns("X", "Y")', "function `owns` takes 1 argument, got 2"),
        ("owns()", "function `owns` takes 1 argument, got 0"),
        ("now(1) > last_login", "function `now` takes no arguments, got 1"),
        ("round(1, 2, 3) > 1", "function `round` takes 1 or 2 arguments, got 3"),
        ("min(1) > 0", "function `min` takes at least 2 arguments, got 1"),
        ("starts_with(country) ", "function `starts_with` takes 2 arguments, got 1"),
        ("lower(age) == 'x'", "function `lower`: argument 1 must be text, got a number"),
        ("owns(1)", "function `owns`: argument 1 must be text, got a number"),
        ("days_since(age) > 1", "argument 1 must be a date or date-time, got a number"),
        ("abs(country) > 1", "function `abs`: argument 1 must be a number, got text"),
        ("max(1, vip) > 1", "function `max`: argument 2 must be a number, got true/false"),
        ("len(age) > 1", "argument 1 must be text or a list, got a number"),
        ("contains(age, 1)", "argument 1 must be text or a list, got a number"),
        ('contains(scores, "x")', "argument 2 must be a number, got text"),
        ("contains(country, 1)", "argument 2 must be text, got a number"),
        ('coalesce(age, "x") > 1', "needs arguments of one type, got a number and text"),
        ("date(country) < today()", 'argument 1 must be a quoted literal like "2026-01-31"'),
        ('date("2026-02-30") < today()', "`2026-02-30` is not a valid date"),
        ('date("31.01.2026") < today()', 'write it like "2026-01-31"'),
        ('date("20260131") < today()', "`20260131` is not a valid date"),
        ('datetime("yesterday") < now()', "`yesterday` is not a valid datetime"),
    ],
)
def test_function_errors(rule: str, message: str) -> None:
    with pytest.raises(RuleTypeError) as info:
        compile_rule(rule, ENV)
    assert message in info.value.message
    assert info.value.column == 1


def test_function_names_are_case_insensitive() -> None:
    assert compile_rule('OWNS("X") or Lower(country) == "de"', ENV).type is T.BOOL


def test_owns_needs_a_products_list() -> None:
    for profile in ({"age": T.NUMBER}, {"products": T.TEXT}):
        with pytest.raises(RuleTypeError) as info:
            compile_rule('owns("X")', TypeEnv(profile=profile, context={}))
        assert info.value.message == "owns() needs a profile field `products` of type list<text>"
    env = TypeEnv(profile={"products": T.LIST_TEXT}, context={}, protected=frozenset({"products"}))
    with pytest.raises(RuleTypeError, match="protected attribute"):
        compile_rule('owns("X")', env)


def test_errors_are_rule_errors_and_nextbest_errors() -> None:
    for rule, kind in (("age >", RuleSyntaxError), ("agee > 1", RuleTypeError)):
        with pytest.raises(kind) as info:
            compile_rule(rule, ENV)
        assert isinstance(info.value, RuleError) and isinstance(info.value, NextbestError)
        assert info.value.text == rule


def test_error_message_quotes_the_spot_on_its_line() -> None:
    rule = "age > 1\n  and country > 2 and vip"
    with pytest.raises(RuleTypeError) as info:
        compile_rule(rule, ENV)
    err = info.value
    assert (err.line, err.column, err.offset) == (2, 15, 22)
    assert str(err) == ("cannot compare text with a number (at line 2, column 15: `> 2 and vip`)")


def test_non_text_rule_is_a_type_error() -> None:
    with pytest.raises(RuleTypeError, match="a rule must be text"):
        compile_rule(18, ENV)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "rtype"),
    [
        ("number", T.NUMBER),
        ("integer", T.NUMBER),
        ("text", T.TEXT),
        ("string", T.TEXT),
        ("bool", T.BOOL),
        ("boolean", T.BOOL),
        ("date", T.DATE),
        ("datetime", T.DATETIME),
        ("list<text>", T.LIST_TEXT),
        ("list<number>", T.LIST_NUMBER),
        ("List< Text >", T.LIST_TEXT),
    ],
)
def test_parse_type(name: str, rtype: RuleType) -> None:
    assert parse_type(name) is rtype


def test_parse_type_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown type `numbr`; use number, text, bool"):
        parse_type("numbr")


DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
DOC_ENV = TypeEnv(
    profile={
        "age": T.NUMBER,
        "income": T.NUMBER,
        "country": T.TEXT,
        "vip": T.BOOL,
        "products": T.LIST_TEXT,
        "birthday": T.DATE,
        "last_login": T.DATETIME,
        "gender": T.TEXT,
    },
    context={"page": T.TEXT},
    protected=frozenset({"gender"}),
)


def documented_errors() -> list[tuple[str, str]]:
    text = DOCS.read_text().split("## Errors", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(.+?)`(?: \(as a condition\))? \| (.+) \|$", text, re.MULTILINE)
    return [(rule, message) for rule, message in rows if not message.endswith("…)")]


def test_the_documented_errors_are_the_real_ones() -> None:
    rows = documented_errors()
    assert len(rows) >= 30
    for rule, message in rows:
        with pytest.raises(RuleError) as info:
            compile_rule(rule, DOC_ENV)
        assert str(info.value) == message, rule
