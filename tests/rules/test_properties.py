"""Property tests.

- Printing any syntax tree and parsing it back gives the same canonical key.
- Compiled rules agree with naive reference evaluators (three-valued logic, arithmetic
  with null propagation) written here without the engine.
- Null-propagation laws hold for arbitrary number expressions.
- No text makes the parser or compiler fail other than with a RuleError, and any rule
  that compiles evaluates without raising to a value of its declared type.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.rules import (
    FUNCTIONS,
    RuleError,
    RuleSyntaxError,
    RuleType,
    Scope,
    TypeEnv,
    compile_rule,
    parse,
)
from nextbest.rules.ast import Binary, Call, IsNull, ListLit, Literal, Name, Node, Unary
from nextbest.rules.lexer import KEYWORDS

T = RuleType
NOW = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

# --- 1. printing and parsing -----------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True).filter(
    lambda s: s.lower() not in KEYWORDS
)
MAX_MICROS = timedelta.max // timedelta(microseconds=1)
literals = st.one_of(
    st.builds(lambda v: Literal(0, v, "number"), st.integers(0, 10**30)),
    st.builds(
        lambda v: Literal(0, v, "number"),
        st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    ),
    st.builds(lambda v: Literal(0, v, "text"), st.text(max_size=6)),
    st.builds(lambda v: Literal(0, v, "bool"), st.booleans()),
    st.just(Literal(0, None, "null")),
    st.builds(
        lambda us: Literal(0, timedelta(microseconds=us), "duration"),
        st.integers(0, MAX_MICROS) | st.sampled_from([0, 86_400_000_000, 3_600_000_000]),
    ),
)
leaves = literals | st.builds(lambda n, c: Name(0, n, c), names, st.booleans())
BINARY_OPS = [
    "and",
    "or",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "+",
    "-",
    "*",
    "/",
    "%",
]


def compound(inner: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(lambda op, e: Unary(0, op, e), st.sampled_from(["not", "-"]), inner),
        st.builds(lambda op, a, b: Binary(0, op, a, b), st.sampled_from(BINARY_OPS), inner, inner),
        st.builds(lambda e, neg: IsNull(0, e, neg), inner, st.booleans()),
        st.builds(lambda n, args: Call(0, n, tuple(args)), names, st.lists(inner, max_size=3)),
        st.builds(lambda items: ListLit(0, tuple(items)), st.lists(literals, max_size=3)),
    )


trees = st.recursive(leaves, compound, max_leaves=16)


def render(node: Node, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """An independent printer: every compound in parentheses, random spacing, keyword case
    and quotes, durations in seconds — all things the canonical key normalises away."""

    def space() -> str:
        return str(draw(st.sampled_from([" ", "  ", "\n  ", "\t"])))

    def word(w: str) -> str:
        return str(draw(st.sampled_from([w, w.upper(), w.capitalize()])))

    def sub(n: Node) -> str:
        text = render(n, draw)
        return text if isinstance(n, Literal | Name) else f"({text})"

    if isinstance(node, Literal):
        if node.kind == "text":
            quote = draw(st.sampled_from(['"', "'"]))
            body = node.value.replace("\\", "\\\\").replace(quote, "\\" + quote)
            return quote + body.replace("\n", "\\n") + quote
        if node.kind == "duration":
            micros = node.value // timedelta(microseconds=1)
            return f"{micros // 1_000_000}.{micros % 1_000_000:06d}s"
        if node.kind in ("bool", "null"):
            return word(node.key())
        return node.key()
    if isinstance(node, Name):
        return f"context.{node.name}" if node.context else node.name
    if isinstance(node, Unary):
        return (word("not") + space() if node.op == "not" else "-") + sub(node.operand)
    if isinstance(node, Binary):
        op = " ".join(word(w) for w in node.op.split())
        return f"{sub(node.left)}{space()}{op}{space()}{sub(node.right)}"
    if isinstance(node, IsNull):
        return f"{sub(node.operand)} {word('is')} {word('not') + ' ' if node.negated else ''}null"
    if isinstance(node, Call):
        return word(node.name) + "(" + ("," + space()).join(sub(a) for a in node.args) + ")"
    assert isinstance(node, ListLit)
    return "[" + ", ".join(sub(i) for i in node.items) + "]"


@settings(max_examples=300, deadline=None)
@given(trees, st.data())
def test_printed_trees_parse_back_to_the_same_key(tree: Node, data: st.DataObject) -> None:
    key = tree.key()
    assert parse(key).key() == key  # the key is a rule with the same key
    text = render(tree, data.draw)
    assert parse(text).key() == key, text


# --- 2. agreement with reference evaluators ----------------------------------------------

FIELDS = ("a", "b", "c")
ENV = TypeEnv(
    profile={
        **dict.fromkeys(FIELDS, T.NUMBER),
        "n": T.NUMBER,
        "x": T.BOOL,
        "y": T.BOOL,
        "s": T.LIST_NUMBER,
    },
    context={},
)
ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

# number expressions: ("field", f) | ("num", k) | ("neg", e) | ("arith", op, e, e)
numbers = st.recursive(
    st.tuples(st.just("field"), st.sampled_from(FIELDS))
    | st.tuples(st.just("num"), st.integers(0, 9)),
    lambda inner: (
        st.tuples(st.just("neg"), inner)
        | st.tuples(st.just("arith"), st.sampled_from(sorted(ARITH)), inner, inner)
    ),
    max_leaves=6,
)
# conditions: ("cmp", e, op, e) | ("bool", name) | ("isnull", e, negated) | ("in", e, items)
#             | ("inlist", e) | ("not", c) | ("and"/"or", c, c)
conditions = st.recursive(
    st.tuples(st.just("cmp"), numbers, st.sampled_from(sorted(COMPARE)), numbers)
    | st.tuples(st.just("bool"), st.sampled_from(["x", "y", "true", "false", "null"]))
    | st.tuples(st.just("isnull"), numbers, st.booleans())
    | st.tuples(st.just("in"), numbers, st.lists(st.integers(-3, 3), min_size=1, max_size=3))
    | st.tuples(st.just("inlist"), numbers),
    lambda inner: (
        st.tuples(st.just("not"), inner) | st.tuples(st.sampled_from(["and", "or"]), inner, inner)
    ),
    max_leaves=10,
)
values = st.fixed_dictionaries(
    {
        **{f: st.none() | st.integers(-3, 3) for f in FIELDS},
        "x": st.none() | st.booleans(),
        "y": st.none() | st.booleans(),
        "s": st.none() | st.lists(st.integers(-3, 3), max_size=3),
    }
)


def show(e: Any) -> str:
    kind = e[0]
    if kind == "field":
        return str(e[1])
    if kind == "num":
        return str(e[1])
    if kind == "neg":
        return f"-({show(e[1])})"
    if kind == "arith":
        return f"({show(e[2])}) {e[1]} ({show(e[3])})"
    if kind == "cmp":
        return f"({show(e[1])}) {e[2]} ({show(e[3])})"
    if kind == "bool":
        return str(e[1])
    if kind == "isnull":
        return f"({show(e[1])}) is {'not ' if e[2] else ''}null"
    if kind == "in":
        return f"({show(e[1])}) in {list(e[2])}"
    if kind == "inlist":
        return f"({show(e[1])}) in s"
    if kind == "not":
        return f"not ({show(e[1])})"
    return f"({show(e[1])}) {kind} ({show(e[2])})"


def number(e: Any, v: dict[str, Any]) -> Any:
    """Reference arithmetic: null in, null out; division by zero and overflow are null."""
    kind = e[0]
    if kind == "field":
        return v[e[1]]
    if kind == "num":
        return e[1]
    if kind == "neg":
        inner = number(e[1], v)
        return None if inner is None else -inner
    left, right = number(e[2], v), number(e[3], v)
    if left is None or right is None or (e[1] in "/%" and right == 0):
        return None
    try:
        return ARITH[e[1]](left, right)
    except ArithmeticError:
        return None


def truth(e: Any, v: dict[str, Any]) -> bool | None:
    """Reference three-valued logic, spelled out by truth table rather than cleverness."""
    kind = e[0]
    if kind == "cmp":
        left, right = number(e[1], v), number(e[3], v)
        return None if left is None or right is None else bool(COMPARE[e[2]](left, right))
    if kind == "bool":
        return {"true": True, "false": False, "null": None}.get(e[1], v.get(e[1]))
    if kind == "isnull":
        return (number(e[1], v) is not None) if e[2] else (number(e[1], v) is None)
    if kind == "in":
        left = number(e[1], v)
        return None if left is None else left in e[2]
    if kind == "inlist":
        left = number(e[1], v)
        return None if left is None or v["s"] is None else left in v["s"]
    if kind == "not":
        inner = truth(e[1], v)
        return None if inner is None else not inner
    left, right = truth(e[1], v), truth(e[2], v)
    table_and = {
        (True, True): True,
        (True, False): False,
        (False, True): False,
        (False, False): False,
        (True, None): None,
        (None, True): None,
        (False, None): False,
        (None, False): False,
        (None, None): None,
    }
    if kind == "and":
        return table_and[(left, right)]
    flip = {True: False, False: True, None: None}
    return flip[table_and[(flip[left], flip[right])]]  # De Morgan


@settings(max_examples=300, deadline=None)
@given(conditions, values)
def test_conditions_match_three_valued_reference(e: Any, v: dict[str, Any]) -> None:
    rule = compile_rule(show(e), ENV)
    scope = Scope(v, {}, NOW)
    expected = truth(e, v)
    assert rule.evaluate(scope) is expected
    assert rule.test(scope) is (expected is True)


@settings(max_examples=300, deadline=None)
@given(numbers, values)
def test_arithmetic_matches_reference(e: Any, v: dict[str, Any]) -> None:
    result = compile_rule(show(e), ENV, expect=T.NUMBER).evaluate(Scope(v, {}, NOW))
    assert result == number(e, v) and type(result) is type(number(e, v))


# --- 3. null-propagation laws -----------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(numbers, values)
def test_null_propagation_laws(e: Any, v: dict[str, Any]) -> None:
    scope = Scope({**v, "n": None}, {}, NOW)
    x = show(e)
    value = number(e, v)

    def ev(rule: str) -> Any:
        return compile_rule(rule, ENV, expect=None).evaluate(scope)

    for op in [*ARITH, *COMPARE]:
        assert ev(f"({x}) {op} n") is None
        assert ev(f"n {op} ({x})") is None
    assert ev("-n") is None
    assert ev(f"({x}) in [1, 2] or n in [1]") in (True, None)
    assert ev(f"({x}) is null") is (value is None)
    assert ev(f"({x}) is not null") is (value is not None)
    assert ev(f"coalesce({x}, 7)") == (7 if value is None else value)
    assert ev(f"coalesce(n, {x})") == value
    # not keeps null; and/or with null only decide when the other side decides
    assert ev(f"not (({x}) > n)") is None
    assert ev(f"(({x}) > 0) and (n > 0)") in (False, None)
    assert ev(f"(({x}) > 0) or (n > 0)") in (True, None)
    assert ev(f"abs({x})") == (None if value is None else abs(value))
    assert ev(f"round({x}, n)") is None


# --- 4. robustness ----------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_parser_only_raises_syntax_errors(text: str) -> None:
    try:
        parse(text)
    except RuleSyntaxError as exc:
        assert exc.line >= 1 and exc.column >= 1 and 0 <= exc.offset <= len(text)


TOKENS = [
    *"()[],.+-*/%<>=!\"'$",
    "==", "!=", "<=", ">=", "and", "or", "not", "in", "is", "null", "true", "false",
    "context", "context.page", "a", "x", "s", "n", "age", "1", "0", "2.5", "1e3", "30d",
    "1.5h", '"DE"', "'x'", "owns", "days_since", "date", '"2026-01-31"', "round", "coalesce",
    "now()", "today()", "birthday", "login", "tags", "\n",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join))
def test_compiler_only_raises_rule_errors(text: str) -> None:
    with contextlib.suppress(RuleError):
        compile_rule(text, ENV, expect=None)


# Typed fields of every kind, for the soundness property.
TYPED = TypeEnv(
    profile={
        "age": T.NUMBER,
        "name": T.TEXT,
        "vip": T.BOOL,
        "birthday": T.DATE,
        "login": T.DATETIME,
        "tags": T.LIST_TEXT,
        "scores": T.LIST_NUMBER,
        "products": T.LIST_TEXT,
    },
    context={"wait": T.DURATION, "page": T.TEXT},
)
SAMPLES: dict[RuleType, st.SearchStrategy[Any]] = {
    T.NUMBER: st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, width=64),
    T.TEXT: st.text(max_size=5),
    T.BOOL: st.booleans(),
    T.DATE: st.dates(),
    T.DATETIME: st.datetimes(timezones=st.just(UTC)),
    T.DURATION: st.timedeltas(),
    T.LIST_TEXT: st.lists(st.text(max_size=3), max_size=3),
    T.LIST_NUMBER: st.lists(st.integers(-5, 5), max_size=3).map(tuple),
}


def typed_scope(env: TypeEnv) -> st.SearchStrategy[Scope]:
    def side(fields: dict[str, RuleType]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({f: st.none() | SAMPLES[t] for f, t in fields.items()})

    return st.builds(
        lambda p, c, now: Scope(p, c, now),
        side(dict(env.profile)),
        side(dict(env.context)),
        st.datetimes(min_value=datetime(1900, 1, 1), timezones=st.just(UTC)),
    )


typed_leaves = st.one_of(
    st.sampled_from(
        [Name(0, f, False) for f in TYPED.profile] + [Name(0, f, True) for f in TYPED.context]
    ),
    literals,
    st.just(Call(0, "date", (Literal(0, "2026-01-31", "text"),))),
    st.builds(lambda n: Call(0, n, ()), st.sampled_from(["now", "today", "hour_of_day"])),
)
typed_trees = st.recursive(
    typed_leaves,
    lambda inner: st.one_of(
        st.builds(lambda op, e: Unary(0, op, e), st.sampled_from(["not", "-"]), inner),
        st.builds(lambda op, a, b: Binary(0, op, a, b), st.sampled_from(BINARY_OPS), inner, inner),
        st.builds(lambda e, neg: IsNull(0, e, neg), inner, st.booleans()),
        st.builds(
            lambda n, args: Call(0, n, tuple(args)),
            st.sampled_from(sorted(FUNCTIONS)),
            st.lists(inner, min_size=1, max_size=2),
        ),
    ),
    max_leaves=6,
)
PYTHON_TYPES: dict[RuleType, Callable[[Any], bool]] = {
    T.NUMBER: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    T.TEXT: lambda v: isinstance(v, str),
    T.BOOL: lambda v: isinstance(v, bool),
    T.DATE: lambda v: isinstance(v, date) and not isinstance(v, datetime),
    T.DATETIME: lambda v: isinstance(v, datetime) and v.tzinfo is not None,
    T.DURATION: lambda v: isinstance(v, timedelta),
    T.LIST_TEXT: lambda v: all(isinstance(i, str) for i in v),
    T.LIST_NUMBER: lambda v: all(isinstance(i, int | float) for i in v),
    T.NULL: lambda v: v is None,
}


@settings(max_examples=500, deadline=None)
@given(typed_trees, typed_scope(TYPED))
def test_compiled_rules_never_raise_and_keep_their_type(tree: Node, scope: Scope) -> None:
    try:
        rule = compile_rule(tree.key(), TYPED, expect=None)
    except RuleError:
        return
    value = rule.evaluate(scope)
    assert value is None or PYTHON_TYPES[rule.type](value), (rule.text, rule.type, value)
    assert rule.test(scope) is (value is True)
