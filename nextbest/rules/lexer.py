"""Tokenizer: rule text → tokens with their offsets.

Anything the tokenizer does not recognise is a RuleSyntaxError at the offending
character, so the parser only ever sees well-formed tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nextbest.rules.types import RuleSyntaxError

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
MAX_LENGTH = 10_000
DURATION_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}

# A number or duration must not run into a letter, digit or dot: `18years` and `1.2.3`
# fall through to `badnum` and get a message instead of being split into odd tokens.
# Possessive quantifiers keep a 10,000-digit rule linear instead of backtracking.
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>\d++(?:_\d++)*+(?:\.\d++)?+[wdhms](?![\w.]))
  | (?P<number>(?:\d++(?:_\d++)*+(?:\.\d++)?+|\.\d++)(?:[eE][+-]?\d++)?+(?![\w.]))
  | (?P<badnum>\d[\w.]*+)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,|\.)
  | (?P<quote>["'])
    """,
    re.VERBOSE,
)
_UNIT_TYPO = re.compile(r"\d+(?:\.\d+)?([A-Za-z]\w*)")
_ESCAPES = {"n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # NUMBER STRING DURATION NAME KEYWORD OP EOF
    value: str
    offset: int


def _string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    i = start + 1
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\n":
            break  # a string never spans lines: stop here so the error points at the quote
        out.append(ch)
        i += 1
    raise RuleSyntaxError("unclosed string: add the closing quote", start, text)


def _bad_number(word: str, offset: int, text: str) -> RuleSyntaxError:
    typo = _UNIT_TYPO.fullmatch(word)
    if typo:
        return RuleSyntaxError(
            f"unknown unit `{typo.group(1)}` in `{word}`; durations are written like "
            "`30d` (w, d, h, m or s)",
            offset,
            text,
        )
    return RuleSyntaxError(f"`{word}` is not a number", offset, text)


def tokenize(text: str) -> list[Token]:
    """Split rule text into tokens; the last token is always EOF."""
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
            tokens.append(Token("DURATION", match.group().replace("_", ""), pos))
        elif kind == "badnum":
            raise _bad_number(match.group(), pos, text)
        else:
            tokens.append(Token("OP", match.group(), pos))
        pos = match.end()
    tokens.append(Token("EOF", "", len(text)))
    return tokens
