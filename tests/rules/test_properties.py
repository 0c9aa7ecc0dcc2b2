"""Property tests: the compiled rule agrees with a naive three-valued reference, printing
and re-parsing is stable, and no text makes the parser fail in an unplanned way."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.rules import (
    RuleSyntaxError,
    RuleType,
    RuleTypeError,
    Scope,
    TypeEnv,
    compile_rule,
    parse,
)

NOW = datetime(2026, 3, 2, tzinfo=UTC)
FIELDS = ("a", "b", "c")
ENV = TypeEnv(
    profile={**{f: RuleType.NUMBER for f in FIELDS}, "x": RuleType.BOOL, "y": RuleType.BOOL}
)

# an expression tree: ("cmp", field, op, number) | ("bool", name) | ("not", e) | ("and"/"or", e, e) | ("isnull", field)
leaf = st.one_of(
    st.tuples(
        st.just("cmp"),
        st.sampled_from(FIELDS),
        st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
        st.integers(-3, 3),
    ),
    st.tuples(st.just("bool"), st.sampled_from(["x", "y", "true", "false", "null"])),
    st.tuples(st.just("isnull"), st.sampled_from(FIELDS)),
)
exprs = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=12,
)
values = st.fixed_dictionaries(
    {f: st.none() | st.integers(-3, 3) for f in FIELDS}
    | {"x": st.none() | st.booleans(), "y": st.none() | st.booleans()}
)


def render(e: Any) -> str:
    kind = e[0]
    if kind == "cmp":
        return f"{e[1]} {e[2]} {e[3]}"
    if kind == "bool":
        return e[1]
    if kind == "isnull":
        return f"{e[1]} is null"
    if kind == "not":
        return f"not ({render(e[1])})"
    return f"({render(e[1])}) {kind} ({render(e[2])})"


def reference(e: Any, v: dict[str, Any]) -> bool | None:
    kind = e[0]
    if kind == "cmp":
        left = v[e[1]]
        if left is None:
            return None
        return {
            "==": left == e[3],
            "!=": left != e[3],
            "<": left < e[3],
            "<=": left <= e[3],
            ">": left > e[3],
            ">=": left >= e[3],
        }[e[2]]
    if kind == "bool":
        return {"true": True, "false": False, "null": None}.get(e[1], v.get(e[1]))
    if kind == "isnull":
        return v[e[1]] is None
    if kind == "not":
        inner = reference(e[1], v)
        return None if inner is None else not inner
    left, right = reference(e[1], v), reference(e[2], v)
    if kind == "and":
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


@settings(max_examples=400, deadline=None)
@given(exprs, values)
def test_matches_three_valued_reference(e: Any, v: dict[str, Any]) -> None:
    rule = compile_rule(render(e), ENV, expect=None)
    assert rule.evaluate(Scope(v, {}, NOW)) == reference(e, v)
    assert rule.test(Scope(v, {}, NOW)) is (reference(e, v) is True)


@settings(max_examples=300, deadline=None)
@given(exprs)
def test_canonical_form_is_stable(e: Any) -> None:
    first = parse(render(e)).key()
    # the canonical form is itself a valid rule with the same canonical form
    assert parse(first).key() == first


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60))
def test_parser_only_raises_syntax_errors(text: str) -> None:
    try:
        parse(text)
    except RuleSyntaxError as exc:
        assert exc.column >= 1 and exc.line >= 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcxy0123 ()<>=!andortuefls\"'[],.+-*/%", max_size=40))
def test_compiler_only_raises_rule_errors(text: str) -> None:
    with contextlib.suppress(RuleSyntaxError, RuleTypeError):
        compile_rule(text, ENV, expect=None)
