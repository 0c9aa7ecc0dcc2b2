"""Command-line shell."""

from nextbest.cli.main import app, main

__all__ = ["app", "main"]
