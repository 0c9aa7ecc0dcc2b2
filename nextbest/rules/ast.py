"""The syntax tree of a rule.

`key()` gives a canonical form used to share rules: single spaces, only the parentheses
the precedence needs, keywords and function names lower case, texts in double quotes,
durations in their largest whole unit. The key is itself a valid rule that parses back to
the same key (and nests no deeper than the text it came from), so tools can print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

_UNIT_MICROSECONDS = (
    ("w", 604_800_000_000),
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
)


def duration_key(value: timedelta) -> str:
    """`30d`, `36h`, `1.5s`: the same duration always prints the same way."""
    micros = value // timedelta(microseconds=1)
    for unit, size in _UNIT_MICROSECONDS:
        if micros % size == 0:
            return f"{micros // size}{unit}"
    return format(Decimal(micros).scaleb(-6).normalize(), "f") + "s"


def text_key(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


# binding strength, loosest first; the parser's precedence table in numbers
OR, AND, NOT, COMPARE, ADD, MULTIPLY, NEGATE, ATOM = range(1, 9)
_BINARY = {
    "or": OR,
    "and": AND,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in", "not in"), COMPARE),
    **dict.fromkeys(("+", "-"), ADD),
    **dict.fromkeys(("*", "/", "%"), MULTIPLY),
}


@dataclass(frozen=True, slots=True)
class Node:
    offset: int

    def key(self) -> str:
        raise NotImplementedError

    def precedence(self) -> int:
        return ATOM

    def _key_at(self, least: int) -> str:
        """This node's key, parenthesised if it binds looser than its place needs."""
        key = self.key()
        return key if self.precedence() >= least else f"({key})"


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # int | float | str | bool | None | timedelta
    kind: str  # number text bool null duration

    def key(self) -> str:
        if self.kind == "text":
            return text_key(self.value)
        if self.kind == "duration":
            return duration_key(self.value)
        if self.kind == "bool":
            return "true" if self.value else "false"
        if self.kind == "null":
            return "null"
        return repr(self.value)


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str
    context: bool  # `context.x`

    def key(self) -> str:
        return f"context.{self.name}" if self.context else self.name


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]

    def key(self) -> str:
        return "[" + ", ".join(i.key() for i in self.items) + "]"


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # not, -
    operand: Node

    def key(self) -> str:
        if self.op == "not":
            return f"not {self.operand._key_at(NOT)}"
        return f"-{self.operand._key_at(NEGATE)}"

    def precedence(self) -> int:
        return NOT if self.op == "not" else NEGATE


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # and or == != < <= > >= in notin + - * / %
    left: Node
    right: Node

    def key(self) -> str:
        # left-associative: `a - b - c` needs no parentheses, `a - (b - c)` does;
        # comparisons do not chain, so neither side may be a bare comparison
        own = self.precedence()
        left = self.left._key_at(own + 1 if own == COMPARE else own)
        return f"{left} {self.op} {self.right._key_at(own + 1)}"

    def precedence(self) -> int:
        return _BINARY[self.op]


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool

    def key(self) -> str:
        return f"{self.operand._key_at(ADD)} is {'not ' if self.negated else ''}null"

    def precedence(self) -> int:
        return COMPARE


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]

    def key(self) -> str:
        return f"{self.name.lower()}(" + ", ".join(a.key() for a in self.args) + ")"
