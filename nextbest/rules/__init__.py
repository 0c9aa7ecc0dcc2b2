"""The rule language: a small, safe expression language for engagement policies.

    rule = compile_rule('age >= 18 and not owns("GOLD_CARD")', env)
    rule.test(Scope(profile, context, now))

Text → tokens (`lexer`) → syntax tree (`parser`, `ast`) → type check and closures
(`compiler`, `functions`). See docs/rules.md.
"""

from nextbest.rules.ast import Node
from nextbest.rules.compiler import CompiledRule, compile_rule
from nextbest.rules.functions import FUNCTIONS
from nextbest.rules.parser import parse
from nextbest.rules.types import (
    RuleError,
    RuleSyntaxError,
    RuleType,
    RuleTypeError,
    Scope,
    TypeEnv,
    parse_type,
)

__all__ = [
    "FUNCTIONS",
    "CompiledRule",
    "Node",
    "RuleError",
    "RuleSyntaxError",
    "RuleType",
    "RuleTypeError",
    "Scope",
    "TypeEnv",
    "compile_rule",
    "parse",
    "parse_type",
]
