"""Type check a syntax tree against the schema and compile it to nested closures.

Each node becomes a function `(profile, context, now) -> value | None`; `None` is null.
Null propagates through comparisons and arithmetic; `and`/`or` follow Kleene's
three-valued logic; a rule whose result is null is not satisfied. Nothing here ever hands
user text to `eval`/`exec`.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from nextbest.rules.ast import Binary, Call, IsNull, ListLit, Literal, Name, Node, Unary
from nextbest.rules.functions import FUNCTIONS, FunctionError
from nextbest.rules.parser import parse
from nextbest.rules.types import (
    ELEMENT,
    LIST_OF,
    RuleType,
    RuleTypeError,
    Scope,
    TypeEnv,
    describe,
)

Fn = Callable[[Mapping[str, Any], Mapping[str, Any], datetime], Any]
T = RuleType
_ORDERED = {T.NUMBER, T.TEXT, T.DATE, T.DATETIME, T.DURATION}
_LITERAL_TYPES = {
    "number": T.NUMBER,
    "text": T.TEXT,
    "bool": T.BOOL,
    "null": T.NULL,
    "duration": T.DURATION,
}


def _as_datetime(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


class CompiledRule:
    """A rule ready to evaluate. `key` is its canonical form: rules that differ only in
    spacing or keyword case share a key, and so are evaluated once per decision."""

    __slots__ = ("_fn", "context_fields", "fields", "key", "text", "type")

    def __init__(
        self,
        text: str,
        rtype: RuleType,
        key: str,
        fn: Fn,
        fields: frozenset[str],
        context_fields: frozenset[str],
    ) -> None:
        self.text = text
        self.type = rtype
        self.key = key
        self._fn = fn
        self.fields = fields
        self.context_fields = context_fields

    def evaluate(self, scope: Scope) -> Any:
        return self._fn(scope.profile, scope.context, scope.now)

    def test(self, scope: Scope) -> bool:
        return self._fn(scope.profile, scope.context, scope.now) is True

    def __repr__(self) -> str:
        return f"CompiledRule({self.text!r})"


class _Compiler:
    def __init__(self, text: str, env: TypeEnv) -> None:
        self.text = text
        self.env = env
        self.fields: set[str] = set()
        self.context_fields: set[str] = set()

    def error(self, node: Node, message: str) -> RuleTypeError:
        return RuleTypeError(message, node.offset, self.text)

    def compile(self, node: Node) -> tuple[RuleType, Fn]:
        if isinstance(node, Literal):
            value = node.value
            return _LITERAL_TYPES[node.kind], lambda p, c, n: value
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, ListLit):
            return self.list_(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, IsNull):
            _, fn = self.compile(node.operand)
            if node.negated:
                return T.BOOL, lambda p, c, n: fn(p, c, n) is not None
            return T.BOOL, lambda p, c, n: fn(p, c, n) is None
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Binary):
            if node.op in ("and", "or"):
                return self.logic(node)
            if node.op in ("in", "not in"):
                return self.membership(node)
            if node.op in ("==", "!=", "<", "<=", ">", ">="):
                return self.compare(node)
            return self.arithmetic(node)
        raise self.error(node, "unsupported expression")  # pragma: no cover

    def name(self, node: Name) -> tuple[RuleType, Fn]:
        # protected before unknown: a protected field must be refused even if undeclared
        if not node.context and node.name in self.env.protected:
            raise self.error(
                node, f"field `{node.name}` is a protected attribute and cannot be used in a rule"
            )
        fields = self.env.context if node.context else self.env.profile
        if node.name not in fields:
            where = "context field" if node.context else "field"
            shown = f"context.{node.name}" if node.context else node.name
            usable = [f for f in fields if node.context or f not in self.env.protected]
            close = difflib.get_close_matches(node.name, usable, n=1)
            hint = (
                f" — did you mean `{'context.' if node.context else ''}{close[0]}`?"
                if close
                else ""
            )
            if not node.context and node.name in self.env.context:
                hint = f" — did you mean `context.{node.name}`?"
            elif node.context and node.name in self.env.profile:
                if node.name not in self.env.protected:
                    hint = f" — did you mean the profile field `{node.name}`?"
            elif not node.context and node.name.lower() in FUNCTIONS:
                hint = f" — `{node.name}` is a function: write `{node.name}()`"
            raise self.error(node, f"unknown {where} `{shown}`{hint}")
        name = node.name
        if node.context:
            self.context_fields.add(name)
            return fields[name], lambda p, c, n: c.get(name)
        self.fields.add(name)
        return fields[name], lambda p, c, n: p.get(name)

    def list_(self, node: ListLit) -> tuple[RuleType, Fn]:
        if not node.items:
            raise self.error(node, "a list needs at least one item")
        values = []
        kind: RuleType | None = None
        for item in node.items:
            if not isinstance(item, Literal) and not (
                isinstance(item, Unary) and item.op == "-" and isinstance(item.operand, Literal)
            ):
                raise self.error(item, "list items must be plain numbers or texts")
            item_type, fn = self.compile(item)
            if item_type not in (T.NUMBER, T.TEXT):
                raise self.error(item, "list items must be plain numbers or texts")
            if kind is not None and item_type != kind:
                raise self.error(item, "all items of a list must have the same type")
            kind = item_type
            values.append(fn({}, {}, datetime.min))
        items = tuple(values)  # a tuple, not a set: len(["A", "A"]) is 2
        assert kind is not None
        return LIST_OF[kind], lambda p, c, n: items

    def unary(self, node: Unary) -> tuple[RuleType, Fn]:
        t, fn = self.compile(node.operand)
        if node.op == "not":
            if t not in (T.BOOL, T.NULL):
                raise self.error(node, f"`not` needs true/false, got {describe(t)}")

            def not_(p: Any, c: Any, n: Any) -> Any:
                v = fn(p, c, n)
                return None if v is None else not v

            return T.BOOL, not_
        if t not in (T.NUMBER, T.DURATION, T.NULL):
            raise self.error(node, f"cannot negate {describe(t)}")

        def neg(p: Any, c: Any, n: Any) -> Any:
            v = fn(p, c, n)
            if v is None:
                return None
            try:
                return -v
            except OverflowError:  # -timedelta.max
                return None

        return t, neg

    def logic(self, node: Binary) -> tuple[RuleType, Fn]:
        # flatten chains so `a and b and c` is one loop, not nested closures
        parts: list[Node] = []
        stack: list[Node] = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, Binary) and cur.op == node.op:
                stack.append(cur.right)
                stack.append(cur.left)
            else:
                parts.append(cur)
        fns = []
        for part in parts:
            t, fn = self.compile(part)
            if t not in (T.BOOL, T.NULL):
                raise self.error(
                    part, f"`{node.op}` needs true/false on both sides, got {describe(t)}"
                )
            fns.append(fn)
        funcs = tuple(fns)
        # Kleene logic: one decisive side (false for `and`, true for `or`) settles it;
        # otherwise any null side makes the result null
        decisive = node.op == "or"

        def combine(p: Any, c: Any, n: Any) -> Any:
            unknown = False
            for f in funcs:
                v = f(p, c, n)
                if v is decisive:
                    return decisive
                if v is None:
                    unknown = True
            return None if unknown else not decisive

        return T.BOOL, combine

    @staticmethod
    def _comparable(lt: RuleType, rt: RuleType, lf: Fn, rf: Fn) -> tuple[Fn, Fn] | None:
        """Coercions that make two sides comparable (date vs date-time), or None if not."""
        if lt == rt or T.NULL in (lt, rt):
            return lf, rf
        if {lt, rt} == {T.DATE, T.DATETIME}:
            return (
                (lambda p, c, n: _as_datetime(lf(p, c, n))),
                (lambda p, c, n: _as_datetime(rf(p, c, n))),
            )
        return None

    def compare(self, node: Binary) -> tuple[RuleType, Fn]:
        op = node.op
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if op in ("==", "!=") and isinstance(side, Literal) and side.kind == "null":
                write = f"{other.key()} is {'' if op == '==' else 'not '}null"
                raise self.error(node, f"`{op} null` is never true; write `{write}` instead")
        lt, lf = self.compile(node.left)
        rt, rf = self.compile(node.right)
        sides = self._comparable(lt, rt, lf, rf)
        if sides is None:
            raise self.error(node, f"cannot compare {describe(lt)} with {describe(rt)}")
        if lt in ELEMENT or rt in ELEMENT:
            raise self.error(
                node, f"`{op}` cannot compare lists; test items with `in` or contains()"
            )
        if op not in ("==", "!=") and not ({lt, rt} - {T.NULL} <= _ORDERED):
            bad = lt if lt not in _ORDERED else rt
            raise self.error(node, f"`{op}` cannot order {describe(bad)}; use == or !=")
        fn = _COMPARE[op]
        if isinstance(node.right, Literal):
            # the common `field op literal`: no closure call for the constant side
            const = node.right.value  # never a date: dates are written date("...")
            if const is None:
                return T.BOOL, lambda p, c, n: None
            if isinstance(node.left, Name) and not node.left.context:
                name = node.left.name

                def field_cmp(p: Mapping[str, Any], c: Any, n: Any) -> Any:
                    a = p.get(name)
                    return None if a is None else fn(a, const)

                return T.BOOL, field_cmp

            def const_cmp(p: Any, c: Any, n: Any) -> Any:
                a = lf(p, c, n)
                return None if a is None else fn(a, const)

            return T.BOOL, const_cmp
        lf, rf = sides

        def cmp(p: Any, c: Any, n: Any) -> Any:
            a = lf(p, c, n)
            if a is None:
                return None
            b = rf(p, c, n)
            if b is None:
                return None
            return fn(a, b)

        return T.BOOL, cmp

    def membership(self, node: Binary) -> tuple[RuleType, Fn]:
        lt, lf = self.compile(node.left)
        rt, rf = self.compile(node.right)
        if rt not in ELEMENT and rt != T.NULL:
            hint = "; to search text use contains(text, part)" if rt == T.TEXT else ""
            raise self.error(
                node.right, f"`{node.op}` needs a list on the right, got {describe(rt)}{hint}"
            )
        if rt in ELEMENT and lt not in (ELEMENT[rt], T.NULL):
            raise self.error(node, f"cannot look for {describe(lt)} in {describe(rt)}")
        negated = node.op == "not in"
        if isinstance(node.right, ListLit):
            # a literal list is a set once, at compile time: lookups stay O(1)
            choices = frozenset(rf({}, {}, datetime.min))

            def member_of_literal(p: Any, c: Any, n: Any) -> Any:
                a = lf(p, c, n)
                if a is None:
                    return None
                return (a not in choices) if negated else (a in choices)

            return T.BOOL, member_of_literal

        def member(p: Any, c: Any, n: Any) -> Any:
            a = lf(p, c, n)
            if a is None:
                return None
            b = rf(p, c, n)
            if b is None:
                return None
            return (a not in b) if negated else (a in b)

        return T.BOOL, member

    def arithmetic(self, node: Binary) -> tuple[RuleType, Fn]:
        lt, lf = self.compile(node.left)
        rt, rf = self.compile(node.right)
        op = node.op
        result = _arith_type(op, lt, rt)
        if result is None:
            raise self.error(node, f"cannot use `{op}` on {describe(lt)} and {describe(rt)}")
        if {lt, rt} == {T.DATE, T.DATETIME}:
            lf0, rf0 = lf, rf
            lf = lambda p, c, n: _as_datetime(lf0(p, c, n))  # noqa: E731
            rf = lambda p, c, n: _as_datetime(rf0(p, c, n))  # noqa: E731
        fn = _ARITHMETIC[op]
        divides = op in ("/", "%")
        whole_days = result == T.DATE

        def arith(p: Any, c: Any, n: Any) -> Any:
            a = lf(p, c, n)
            if a is None:
                return None
            b = rf(p, c, n)
            if b is None:
                return None
            if divides and not b:
                return None  # division by zero is null, never an error
            if whole_days:
                # a date moves by whole days, truncated toward zero: d - 36h == d + -36h
                if isinstance(a, timedelta):
                    a = _whole_days(a)
                else:
                    b = _whole_days(b)
            try:
                return fn(a, b)
            except (ArithmeticError, ValueError):  # overflow; NaN times a duration
                return None

        return result, arith

    def call(self, node: Call) -> tuple[RuleType, Fn]:
        spec = FUNCTIONS.get(node.name.lower())
        if spec is None:
            close = difflib.get_close_matches(node.name.lower(), list(FUNCTIONS), n=1)
            hint = f" — did you mean `{close[0]}`?" if close else ""
            raise self.error(node, f"unknown function `{node.name}`{hint}")
        low, high = spec.arity
        count = len(node.args)
        if count < low or (high is not None and count > high):
            if high == 0:
                want = "no arguments"
            elif high == low:
                want = f"{low} argument{'' if low == 1 else 's'}"
            elif high == low + 1:
                want = f"{low} or {high} arguments"
            elif high is not None:
                want = f"{low} to {high} arguments"
            else:
                want = f"at least {low} arguments"
            raise self.error(node, f"function `{node.name}` takes {want}, got {count}")
        compiled = [self.compile(arg) for arg in node.args]
        try:
            result, fn = spec.build(node.args, compiled, self.env)
        except FunctionError as exc:
            if exc.argument is None:
                raise self.error(node, exc.message) from None
            raise self.error(
                node, f"function `{node.name}`: argument {exc.argument} {exc.message}"
            ) from None
        if node.name.lower() == "owns":
            self.fields.add("products")
        return result, fn


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_DAY = timedelta(days=1)


def _whole_days(d: timedelta) -> timedelta:
    days = abs(d) // _DAY
    return timedelta(days=days if d >= timedelta(0) else -days)


def _arith_type(op: str, lt: RuleType, rt: RuleType) -> RuleType | None:
    if T.NULL in (lt, rt):
        other = rt if lt == T.NULL else lt
        return other if other in (T.NUMBER, T.DURATION, T.DATE, T.DATETIME, T.NULL) else None
    if lt == rt == T.NUMBER:
        return T.NUMBER
    if op in ("+", "-"):
        if lt in (T.DATE, T.DATETIME) and rt == T.DURATION:
            return lt
        if op == "+" and lt == T.DURATION and rt in (T.DATE, T.DATETIME):
            return rt
        if lt == rt == T.DURATION:
            return T.DURATION
        if op == "-" and lt in (T.DATE, T.DATETIME) and rt in (T.DATE, T.DATETIME):
            return T.DURATION
    if op == "*" and {lt, rt} == {T.NUMBER, T.DURATION}:
        return T.DURATION
    if op == "/" and lt == T.DURATION and rt == T.NUMBER:
        return T.DURATION
    return None


def compile_rule(text: str, env: TypeEnv, expect: RuleType | None = RuleType.BOOL) -> CompiledRule:
    """Parse, type check and compile a rule. Raises RuleSyntaxError or RuleTypeError."""
    if not isinstance(text, str):
        raise RuleTypeError("a rule must be text", 0, str(text))
    tree = parse(text)
    compiler = _Compiler(text, env)
    rtype, fn = compiler.compile(tree)
    if expect is not None and rtype not in (expect, T.NULL):
        what = "a condition (true/false)" if expect == T.BOOL else describe(expect)
        start = len(text) - len(text.lstrip())  # the whole rule is at fault: point at its start
        raise RuleTypeError(f"expected {what}, but this is {describe(rtype)}", start, text)
    return CompiledRule(
        text=text.strip(),
        rtype=rtype if rtype != T.NULL else (expect or T.NULL),
        key=tree.key(),
        fn=fn,
        fields=frozenset(compiler.fields),
        context_fields=frozenset(compiler.context_fields),
    )


__all__ = ["CompiledRule", "compile_rule"]
