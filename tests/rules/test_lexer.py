"""Tokens as the parser sees them: literals, keywords, and errors at the offending character."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from nextbest.rules import RuleSyntaxError, parse
from nextbest.rules.ast import Literal, Name
from nextbest.rules.lexer import tokenize


def literal(text: str) -> Literal:
    node = parse(text)
    assert isinstance(node, Literal), node
    return node


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("18", 18),
        ("3.5", 3.5),
        (".5", 0.5),
        ("1_000", 1000),
        ("1_000.25", 1000.25),
        ("2e3", 2000.0),
        ("1.5E-2", 0.015),
        ("0", 0),
    ],
)
def test_numbers(text: str, value: float) -> None:
    node = literal(text)
    assert node.kind == "number"
    assert node.value == value
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("15m", timedelta(minutes=15)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(weeks=2)),
        ("1.5h", timedelta(minutes=90)),
        ("1.1h", timedelta(minutes=66)),  # exact, not 65:59.999999
        ("1_000d", timedelta(days=1000)),
    ],
)
def test_durations(text: str, value: timedelta) -> None:
    node = literal(text)
    assert (node.kind, node.value) == ("duration", value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"DE"', "DE"),
        ("'DE'", "DE"),
        ('"say \\"hi\\""', 'say "hi"'),
        ("'it\\'s'", "it's"),
        ('"it\'s"', "it's"),
        ("'a \"b\"'", 'a "b"'),
        ('"back\\\\slash"', "back\\slash"),
        ('"tab\\tnew\\nline"', "tab\tnew\nline"),
        ('""', ""),
        ('"  spaced  "', "  spaced  "),
        ('"ünïcödé €"', "ünïcödé €"),
    ],
)
def test_strings(text: str, value: str) -> None:
    node = literal(text)
    assert (node.kind, node.value) == ("text", value)


@pytest.mark.parametrize("word", ["and", "AND", "And", "aNd"])
def test_keywords_are_case_insensitive(word: str) -> None:
    assert parse(f"x {word} y").key() == "x and y"


def test_true_false_null_in_any_case() -> None:
    assert literal("TRUE").value is True
    assert literal("False").value is False
    assert literal("NULL").kind == "null"


def test_field_names_are_case_sensitive() -> None:
    node = parse("Age")
    assert isinstance(node, Name) and node.name == "Age"
    assert parse("Age").key() != parse("age").key()


def test_tokens_carry_offsets() -> None:
    tokens = tokenize('age >= 18 and\n  country == "DE"')
    assert [(t.kind, t.value, t.offset) for t in tokens] == [
        ("NAME", "age", 0),
        ("OP", ">=", 4),
        ("NUMBER", "18", 7),
        ("KEYWORD", "and", 10),
        ("NAME", "country", 16),
        ("OP", "==", 24),
        ("STRING", "DE", 27),
        ("EOF", "", 31),
    ]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("age $ 1", "unknown character `$`", 5),
        ("age = 18", "use `==` to compare", 5),
        ("!vip", "use `not` or `!=`", 1),
        ("a && b", "use `and` / `or`", 3),
        ("a || b", "use `and` / `or`", 3),
        ('country == "DE', "unclosed string", 12),
        ("country == 'DE", "unclosed string", 12),
        ('"DE\\"', "unclosed string", 1),
        ("tenure > 18years", "unknown unit `years` in `18years`", 10),
        ("x > 1.2.3", "`1.2.3` is not a number", 5),
        ("x > 1.", "`1.` is not a number", 5),
        ("x > 1_", "`1_` is not a number", 5),
        ("x > " + "9" * 101, "number is longer than 100 digits", 5),
        ("x > 1e400", "number `1e400` is too large", 5),
        ("x > 99999999999w", "duration `99999999999w` is too large", 5),
        ("x > 1 # comment", "unknown character `#`", 7),
    ],
)
def test_lexical_errors_point_at_the_character(text: str, message: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse(text)
    assert message in info.value.message
    assert info.value.column == column
    assert info.value.offset == column - 1


def test_a_string_does_not_run_into_the_next_line() -> None:
    with pytest.raises(RuleSyntaxError, match="unclosed string") as info:
        parse('country == "DE\nand age > 1"')
    assert (info.value.line, info.value.column) == (1, 12)


def test_error_positions_count_lines_and_columns() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse("age > 1\nand\n   country $ 2")
    assert (info.value.line, info.value.column, info.value.offset) == (3, 12, 23)
    assert "line 3, column 12" in str(info.value)


def test_rule_length_is_limited() -> None:
    parse("x" * 10_000)
    with pytest.raises(RuleSyntaxError, match="longer than 10000 characters"):
        parse("x" * 10_001)


@pytest.mark.parametrize(
    "text",
    [
        "9" * 9_999 + "x",
        "1_" * 4_999 + "x",
        "9" * 4_999 + "." + "9" * 4_990 + "x",
        "'" + "\\" * 9_998,
    ],
)
def test_pathological_input_fails_fast(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(RuleSyntaxError):
        parse(text)
    assert time.perf_counter() - start < 0.5
