"""Value types of the rule language, and the errors it raises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from nextbest.errors import NextbestError


class RuleType(StrEnum):
    NUMBER = "number"
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"
    DURATION = "duration"
    LIST_TEXT = "list<text>"
    LIST_NUMBER = "list<number>"
    NULL = "null"


_ALIASES = {
    "number": RuleType.NUMBER,
    "integer": RuleType.NUMBER,
    "int": RuleType.NUMBER,
    "float": RuleType.NUMBER,
    "decimal": RuleType.NUMBER,
    "text": RuleType.TEXT,
    "string": RuleType.TEXT,
    "bool": RuleType.BOOL,
    "boolean": RuleType.BOOL,
    "date": RuleType.DATE,
    "datetime": RuleType.DATETIME,
    "timestamp": RuleType.DATETIME,
    "list<text>": RuleType.LIST_TEXT,
    "list<string>": RuleType.LIST_TEXT,
    "list<number>": RuleType.LIST_NUMBER,
}


def parse_type(name: str) -> RuleType:
    """A field type as written in schema.yaml."""
    key = "".join(str(name).lower().split())
    if key not in _ALIASES:
        raise ValueError(
            f"unknown type `{name}`; use number, text, bool, date, datetime, "
            "list<text> or list<number>"
        )
    return _ALIASES[key]


_DESCRIBED = {
    RuleType.NUMBER: "a number",
    RuleType.TEXT: "text",
    RuleType.BOOL: "true/false",
    RuleType.DATE: "a date",
    RuleType.DATETIME: "a date-time",
    RuleType.DURATION: "a duration",
    RuleType.LIST_TEXT: "a list of text",
    RuleType.LIST_NUMBER: "a list of numbers",
    RuleType.NULL: "null",
}


def describe(t: RuleType) -> str:
    """A type as a marketer would say it: "a number", "true/false", "a list of text"."""
    return _DESCRIBED[t]


ELEMENT = {RuleType.LIST_TEXT: RuleType.TEXT, RuleType.LIST_NUMBER: RuleType.NUMBER}
LIST_OF = {v: k for k, v in ELEMENT.items()}


@dataclass(frozen=True)
class TypeEnv:
    """What a rule may read: profile fields by bare name, context fields as `context.x`."""

    profile: Mapping[str, RuleType]
    context: Mapping[str, RuleType] = field(default_factory=dict)
    protected: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Scope:
    """The values a rule is evaluated against; `now` is the decision time (UTC)."""

    profile: Mapping[str, Any]
    context: Mapping[str, Any]
    now: datetime


class RuleError(NextbestError):
    """A rule that cannot be compiled; knows where in the rule text the problem is."""

    def __init__(self, message: str, offset: int, text: str) -> None:
        self.message = message
        self.offset = max(0, min(offset, len(text)))
        self.text = text
        before = text[: self.offset]
        self.line = before.count("\n") + 1
        self.column = self.offset - (before.rfind("\n") + 1) + 1
        super().__init__(self._render())

    def _render(self) -> str:
        # one line, so it reads well inside a loader's "file line N: ..." problem list
        line_text = self.text.split("\n")[self.line - 1] if self.text else ""
        rest = line_text[self.column - 1 :].rstrip()
        excerpt = f"`{rest[:20]}…`" if len(rest) > 20 else f"`{rest}`" if rest else "end of rule"
        where = (
            f"column {self.column}" if self.line == 1 else f"line {self.line}, column {self.column}"
        )
        return f"{self.message} (at {where}: {excerpt})"


class RuleSyntaxError(RuleError):
    pass


class RuleTypeError(RuleError):
    pass
