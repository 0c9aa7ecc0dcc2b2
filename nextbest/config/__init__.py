"""Configuration: YAML folders loaded, validated and compiled."""

from nextbest.config.compiled import CompiledConfig
from nextbest.config.loader import compile_config, load_config

__all__ = ["CompiledConfig", "compile_config", "load_config"]
