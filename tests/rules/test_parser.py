"""Syntax: precedence, the canonical key, and syntax errors that say what was expected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nextbest.rules import RuleSyntaxError, RuleType, Scope, TypeEnv, compile_rule, parse
from nextbest.rules.ast import Binary, Call, IsNull, ListLit, Literal, Name, Unary


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("a or b and c", "a or b and c"),
        ("(a or b) and c", "(a or b) and c"),
        ("a and b or c", "a and b or c"),
        ("a and (b or c)", "a and (b or c)"),
        ("not a and b", "not a and b"),
        ("not (a and b)", "not (a and b)"),
        ("not a == b", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("not not a", "not not a"),
        ("a == b or c != d", "a == b or c != d"),
        ("(a == b) == c", "(a == b) == c"),
        ("a == (b == c)", "a == (b == c)"),
        ("a + b * c", "a + b * c"),
        ("(a + b) * c", "(a + b) * c"),
        ("a - b - c", "a - b - c"),
        ("a - (b - c)", "a - (b - c)"),
        ("a / b / c", "a / b / c"),
        ("a % b * c", "a % b * c"),
        ("-a * b", "-a * b"),
        ("-(a * b)", "-(a * b)"),
        ("- -a", "--a"),
        ("a - -1", "a - -1"),
        ("a + b > c * d", "a + b > c * d"),
        ("a in [1, 2]", "a in [1, 2]"),
        ("a not in ['x']", 'a not in ["x"]'),
        ("not a in b", "not a in b"),
        ("a + 1 is null", "a + 1 is null"),
        ("(a is null) is null", "(a is null) is null"),
        ("a is not null and b", "a is not null and b"),
        ("((((a))))", "a"),
        ("f(a, b + 1, g())", "f(a, b + 1, g())"),
        ("f((a or b))", "f(a or b)"),
        ("OWNS('X')", 'owns("X")'),
        ("context.page == 'x'", 'context.page == "x"'),
        ("context.IN", "context.in"),
        ("x > 30d - 36h", "x > 30d - 36h"),
        ("14d == 2w", "2w == 2w"),
        ("1.5h", "90m"),
        ("0.5s", "0.5s"),
        ("1_000 + 2.50", "1000 + 2.5"),
        ("'it\\'s' == \"a\\\\b\"", '"it\'s" == "a\\\\b"'),
        ("[1, 2, ]", "[1, 2]"),
        ("[]", "[]"),
    ],
)
def test_precedence_and_canonical_key(text: str, key: str) -> None:
    assert parse(text).key() == key
    assert parse(key).key() == key  # the key is itself a rule


def test_same_rule_written_differently_shares_a_key() -> None:
    variants = [
        'age>=18 and country=="DE"',
        "age >= 18   AND  country == 'DE'",
        '(age >= 18) and (country == "DE")',
        "age >= 18\n  and country == 'DE'",
    ]
    assert len({parse(v).key() for v in variants}) == 1
    assert parse("age >= 19").key() != parse("age >= 18").key()
    assert parse("a and (b and c)").key() != parse("a and b and c").key()


def test_trailing_commas_are_allowed() -> None:
    assert parse("[1, 2,]").key() == "[1, 2]"
    assert parse("max(1, 2,)").key() == "max(1, 2)"


def test_tree_shape_and_offsets() -> None:
    tree = parse('age >= 18 and not owns("GOLD")')
    assert isinstance(tree, Binary) and tree.op == "and" and tree.offset == 10
    left, right = tree.left, tree.right
    assert isinstance(left, Binary) and (left.op, left.offset) == (">=", 4)
    assert isinstance(left.left, Name) and (left.left.name, left.left.context) == ("age", False)
    assert isinstance(left.right, Literal) and left.right.value == 18
    assert isinstance(right, Unary) and right.op == "not" and right.offset == 14
    call = right.operand
    assert isinstance(call, Call) and call.name == "owns" and call.offset == 18
    assert call.args[0] == Literal(23, "GOLD", "text")


def test_other_node_kinds() -> None:
    node = parse("x is not null")
    assert isinstance(node, IsNull) and node.negated
    items = parse("[1, -2]")
    assert isinstance(items, ListLit) and len(items.items) == 2
    ctx = parse("context.page")
    assert isinstance(ctx, Name) and ctx.context and ctx.name == "page"
    assert parse("context") == Name(0, "context", False)  # a plain field may be called context


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "the rule is empty", 1),
        ("   \n ", "the rule is empty", 1),
        ("[,]", "expected a value after `[`", 2),
        ("age > 1 and", "expected a value after `and`", 12),
        ("age > 1 or )", "expected a value after `or`", 12),
        ("age >", "expected a value after `>`", 6),
        ("not", "expected a value after `not`", 4),
        ("age > 1 and and vip", "expected a value after `and`, found `and`", 13),
        ("(age > 1", "unclosed parenthesis", 1),
        ("((age > 1)", "unclosed parenthesis", 1),
        ("(age > 1 vip)", "expected `)`, found `vip`", 10),
        ("age > 1)", "unexpected `)`", 8),
        (")", "unexpected `)`", 1),
        ("age > 1 < 2", "comparisons cannot be chained", 9),
        ("a == b == c", "comparisons cannot be chained", 8),
        ("a in b in c", "comparisons cannot be chained", 8),
        ("a is null is null", "comparisons cannot be chained", 11),
        ("a is b", "expected `null` after `is`", 6),
        ("a is not b", "expected `null` after `is`", 10),
        ("a not b", "found `not`", 3),
        ("age 18", "expected `and`, `or` or an operator, found `18`", 5),
        ('age > 1 "x"', 'found "x"', 9),
        ("age.years > 1", "only `context.` fields use a dot", 4),
        ("context. == 1", "expected a context field name after `context.`", 10),
        ("[1, 2", "unclosed list", 1),
        ("[1 2]", "expected `,` or `]`, found `2`", 4),
        ("[1, , 2]", "expected a value after `,`", 5),
        ('owns("X"', "unclosed parenthesis", 5),
        ("max(1 2)", "expected `,` or `)`, found `2`", 7),
        ("max(1, , 2)", "expected a value after `,`", 8),
        ("1 +", "expected a value after `+`", 4),
        ("* 2", "expected a value, found `*`", 1),
    ],
)
def test_syntax_errors_say_what_was_expected(text: str, message: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.column == column, str(info.value)
    assert info.value.text == text


def test_error_text_quotes_the_spot() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse("age > 1 and")
    assert str(info.value) == "expected a value after `and` (at column 12: end of rule)"
    with pytest.raises(RuleSyntaxError) as info:
        parse("country == 'DE' and age > 1 and not vip)")
    assert str(info.value) == "unexpected `)` — there is no `(` to close (at column 40: `)`)"
    with pytest.raises(RuleSyntaxError) as info:
        parse("age $ 18 and country == 'DE' and vip")
    assert str(info.value).endswith("(at column 5: `$ 18 and country == …`)")


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "(" * n + "1" + ")" * n,
        lambda n: "not " * n + "true",
        lambda n: "-" * n + "1",
        lambda n: "[" * n + "1" + "]" * n,
        lambda n: "abs(" * n + "1" + ")" * n,
    ],
)
def test_nesting_is_limited_with_a_clear_error(make: object) -> None:
    assert callable(make)
    parse(make(63))
    with pytest.raises(RuleSyntaxError, match="nests deeper than 64 levels"):
        parse(make(65))
    with pytest.raises(RuleSyntaxError, match="nests deeper than 64 levels"):
        parse(make(1500))  # a RecursionError would escape here without the limit


def test_operator_count_is_limited() -> None:
    parse(" + ".join(["1"] * 257))
    with pytest.raises(RuleSyntaxError, match="more than 256 operators"):
        parse(" + ".join(["1"] * 258))


def test_deepest_allowed_rule_compiles_and_evaluates() -> None:
    # maximal nesting around a maximal left-deep chain: no RecursionError anywhere
    inner = " + ".join(["x"] * 256)
    text = "(" * 62 + inner + ")" * 62 + " > 0"
    env = TypeEnv(profile={"x": RuleType.NUMBER}, context={})
    rule = compile_rule(text, env)
    assert rule.test(Scope({"x": 1}, {}, datetime(2026, 1, 1, tzinfo=UTC)))
    assert parse(rule.key).key() == rule.key


def test_durations_in_the_key_round_trip() -> None:
    for value in (timedelta(0), timedelta(microseconds=1), timedelta.max, timedelta(days=8)):
        key = Literal(0, value, "duration").key()
        node = parse(key)
        assert isinstance(node, Literal) and node.value == value, key
