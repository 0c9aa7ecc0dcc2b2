"""Recursive-descent parser. Precedence, lowest first:
`or` < `and` < `not` < comparison / `in` / `is null` (non-associative) < `+ -` < `* / %`
< unary `-` < literals, names, calls, parentheses, lists."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from nextbest.rules.ast import Binary, Call, IsNull, ListLit, Literal, Name, Node, Unary
from nextbest.rules.lexer import DURATION_UNITS, Token, tokenize
from nextbest.rules.types import RuleSyntaxError

MAX_DEPTH = 64
MAX_OPERATORS = 256
MAX_NUMBER_LENGTH = 100  # keeps int() clear of Python's digit limit and floats finite
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_MAX_MICROSECONDS = timedelta.max // timedelta(microseconds=1)


def _describe(token: Token) -> str:
    if token.kind == "EOF":
        return "the end of the rule"
    if token.kind == "STRING":
        return f'"{token.value}"'
    return f"`{token.value}`"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.operators = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, message: str, token: Token | None = None) -> RuleSyntaxError:
        return RuleSyntaxError(message, (token or self.tok).offset, self.text)

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at(self, kind: str, value: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def expect_value(self, after: str) -> None:
        if self.tok.kind == "EOF" or (self.tok.kind == "OP" and self.tok.value in {")", "]", ","}):
            raise self.error(f"expected a value after {after}")
        if self.tok.kind == "KEYWORD" and self.tok.value in {"and", "or", "in", "is"}:
            raise self.error(f"expected a value after {after}, found `{self.tok.value}`")

    def parse(self) -> Node:
        if self.at("EOF"):
            raise RuleSyntaxError("the rule is empty", 0, self.text)
        node = self.or_()
        if not self.at("EOF"):
            t = self.tok
            if t.kind == "OP" and t.value == ")":
                raise self.error("unexpected `)` — there is no `(` to close")
            if t.kind == "OP" and t.value in _COMPARE:
                raise self.error("comparisons cannot be chained; combine them with `and`")
            raise self.error(f"expected `and`, `or` or an operator, found {_describe(t)}")
        return node

    def count(self) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise self.error(f"the rule has more than {MAX_OPERATORS} operators; split it")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the rule nests deeper than {MAX_DEPTH} levels")

    def or_(self) -> Node:
        node = self.and_()
        while self.at("KEYWORD", "or"):
            op = self.advance()
            self.expect_value("`or`")
            self.count()
            node = Binary(op.offset, "or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.at("KEYWORD", "and"):
            op = self.advance()
            self.expect_value("`and`")
            self.count()
            node = Binary(op.offset, "and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.at("KEYWORD", "not"):
            op = self.advance()
            self.expect_value("`not`")
            self.nest()
            operand = self.not_()
            self.depth -= 1
            return Unary(op.offset, "not", operand)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        t = self.tok
        if t.kind == "OP" and t.value in _COMPARE:
            self.advance()
            self.expect_value(f"`{t.value}`")
            node: Node = Binary(t.offset, t.value, left, self.additive())
        elif t.kind == "KEYWORD" and t.value == "in":
            self.advance()
            self.expect_value("`in`")
            node = Binary(t.offset, "in", left, self.additive())
        elif t.kind == "KEYWORD" and t.value == "not" and self.tokens[self.pos + 1].value == "in":
            self.advance()
            self.advance()
            self.expect_value("`not in`")
            node = Binary(t.offset, "not in", left, self.additive())
        elif t.kind == "KEYWORD" and t.value == "is":
            self.advance()
            negated = False
            if self.at("KEYWORD", "not"):
                self.advance()
                negated = True
            if not self.at("KEYWORD", "null"):
                raise self.error("expected `null` after `is` (write `is null` or `is not null`)")
            self.advance()
            node = IsNull(t.offset, left, negated)
        else:
            return left
        nxt = self.tok
        if (nxt.kind == "OP" and nxt.value in _COMPARE) or (
            nxt.kind == "KEYWORD" and nxt.value in {"in", "is"}
        ):
            raise self.error("comparisons cannot be chained; combine them with `and`")
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.tok.kind == "OP" and self.tok.value in {"+", "-"}:
            op = self.advance()
            self.expect_value(f"`{op.value}`")
            self.count()
            node = Binary(op.offset, op.value, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.tok.kind == "OP" and self.tok.value in {"*", "/", "%"}:
            op = self.advance()
            self.expect_value(f"`{op.value}`")
            self.count()
            node = Binary(op.offset, op.value, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("OP", "-"):
            op = self.advance()
            self.expect_value("`-`")
            self.nest()
            operand = self.unary()
            self.depth -= 1
            return Unary(op.offset, "-", operand)
        return self.primary()

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "NUMBER":
            self.advance()
            return Literal(t.offset, self.number(t), "number")
        if t.kind == "STRING":
            self.advance()
            return Literal(t.offset, t.value, "text")
        if t.kind == "DURATION":
            self.advance()
            return Literal(t.offset, self.duration(t), "duration")
        if t.kind == "KEYWORD" and t.value in {"true", "false"}:
            self.advance()
            return Literal(t.offset, t.value == "true", "bool")
        if t.kind == "KEYWORD" and t.value == "null":
            self.advance()
            return Literal(t.offset, None, "null")
        if t.kind == "OP" and t.value == "(":
            self.advance()
            self.nest()
            self.expect_value("`(`")
            node = self.or_()
            self.depth -= 1
            if not self.at("OP", ")"):
                if self.at("EOF"):
                    raise self.error("unclosed parenthesis: add `)`", t)
                raise self.error(f"expected `)`, found {_describe(self.tok)}")
            self.advance()
            return node
        if t.kind == "OP" and t.value == "[":
            return self.list_()
        if t.kind == "NAME":
            self.advance()
            if self.at("OP", "("):
                return self.call(t)
            if t.value == "context" and self.at("OP", "."):
                self.advance()
                if not self.at("NAME") and not self.at("KEYWORD"):
                    raise self.error("expected a context field name after `context.`")
                field = self.advance()
                return Name(t.offset, field.value, True)
            if self.at("OP", "."):
                raise self.error("only `context.` fields use a dot")
            return Name(t.offset, t.value, False)
        if t.kind == "EOF":
            raise self.error("the rule ends too early: expected a value")
        if t.kind == "OP" and t.value == ")":
            raise self.error("unexpected `)`")
        raise self.error(f"expected a value, found {_describe(t)}")

    def number(self, t: Token) -> int | float:
        if len(t.value) > MAX_NUMBER_LENGTH:
            raise self.error(f"number is longer than {MAX_NUMBER_LENGTH} digits", t)
        if t.value.isdigit():
            return int(t.value)
        value = float(t.value)
        if math.isinf(value):
            raise self.error(f"number `{t.value}` is too large", t)
        return value

    def duration(self, t: Token) -> timedelta:
        # exact decimal arithmetic: `1.1h` is 66 minutes, not 65:59.999999
        amount = t.value[:-1]
        if len(amount) > MAX_NUMBER_LENGTH:
            raise self.error(f"duration is longer than {MAX_NUMBER_LENGTH} digits", t)
        micros = round(Decimal(amount) * DURATION_UNITS[t.value[-1]] * 1_000_000)
        if micros > _MAX_MICROSECONDS:
            raise self.error(f"duration `{t.value}` is too large", t)
        return timedelta(microseconds=micros)

    def list_(self) -> Node:
        start = self.advance()
        self.nest()
        items: list[Node] = []
        while not self.at("OP", "]"):
            if self.at("EOF"):
                raise self.error("unclosed list: add `]`", start)
            self.expect_value("`[`" if not items else "`,`")
            items.append(self.additive())
            if self.at("OP", ","):
                self.advance()
            elif not self.at("OP", "]"):
                if self.at("EOF"):
                    raise self.error("unclosed list: add `]`", start)
                raise self.error(f"expected `,` or `]`, found {_describe(self.tok)}")
        self.advance()
        self.depth -= 1
        return ListLit(start.offset, tuple(items))

    def call(self, name: Token) -> Node:
        open_ = self.advance()
        args: list[Node] = []
        self.nest()
        while not self.at("OP", ")"):
            if self.at("EOF"):
                raise self.error("unclosed parenthesis: add `)`", open_)
            self.expect_value("`(`" if not args else "`,`")
            args.append(self.or_())
            if self.at("OP", ","):
                self.advance()
            elif not self.at("OP", ")"):
                if self.at("EOF"):
                    raise self.error("unclosed parenthesis: add `)`", open_)
                raise self.error(f"expected `,` or `)`, found {_describe(self.tok)}")
        self.advance()
        self.depth -= 1
        return Call(name.offset, name.value, tuple(args))


def parse(text: str) -> Node:
    """Parse rule text into a syntax tree; raises RuleSyntaxError with the position."""
    return _Parser(text).parse()
