"""The syntax tree of a rule. `key()` gives a canonical form used to share rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Node:
    offset: int

    def key(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # int | float | str | bool | None | timedelta
    kind: str  # number text bool null duration

    def key(self) -> str:
        if self.kind == "text":
            return '"' + str(self.value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        if self.kind == "duration":
            return f"duration({self.value.total_seconds():g}s)"
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
        return f"({self.op} {self.operand.key()})"


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # and or == != < <= > >= in notin + - * / %
    left: Node
    right: Node

    def key(self) -> str:
        return f"({self.left.key()} {self.op} {self.right.key()})"


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    operand: Node
    negated: bool

    def key(self) -> str:
        return f"({self.operand.key()} is {'not ' if self.negated else ''}null)"


@dataclass(frozen=True, slots=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]

    def key(self) -> str:
        return f"{self.name}(" + ", ".join(a.key() for a in self.args) + ")"
