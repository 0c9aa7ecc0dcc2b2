"""Tokenizer: rule text → tokens with their offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nextbest.rules.types import RuleSyntaxError

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
MAX_LENGTH = 10_000


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUMBER STRING DURATION NAME KEYWORD OP EOF
    value: str
    offset: int


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>\d+(?:\.\d+)?(?:w|d|h|m|s)(?![A-Za-z0-9_]))
  | (?P<number>(?:\d[\d_]*)?\.?\d+(?:[eE][+-]?\d+)?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,|\.)
  | (?P<quote>["'])
    """,
    re.VERBOSE,
)


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\n":
            break
        out.append(ch)
        i += 1
    raise RuleSyntaxError("unclosed string: add the closing quote", start, text)


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(f"rule is longer than {MAX_LENGTH} characters", 0, text)
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            ch = text[pos]
            if ch == "=":
                raise RuleSyntaxError("use `==` to compare", pos, text)
            if ch == "!":
                raise RuleSyntaxError("use `not` or `!=`", pos, text)
            if ch == "&" or ch == "|":
                raise RuleSyntaxError("use `and` / `or`", pos, text)
            raise RuleSyntaxError(f"unknown character `{ch}`", pos, text)
        kind = match.lastgroup
        if kind == "ws":
            pass
        elif kind == "quote":
            value, end = _string(text, pos)
            tokens.append(Token("STRING", value, pos))
            pos = end
            continue
        elif kind == "name":
            word = match.group()
            if word.lower() in KEYWORDS:
                tokens.append(Token("KEYWORD", word.lower(), pos))
            else:
                tokens.append(Token("NAME", word, pos))
        elif kind == "number":
            tokens.append(Token("NUMBER", match.group().replace("_", ""), pos))
        elif kind == "duration":
            tokens.append(Token("DURATION", match.group(), pos))
        else:
            tokens.append(Token("OP", match.group(), pos))
        pos = match.end()
    tokens.append(Token("EOF", "", len(text)))
    return tokens
