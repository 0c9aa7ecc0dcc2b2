"""Error classes with messages a user can act on."""

from __future__ import annotations

from dataclasses import dataclass


class NextbestError(Exception):
    """Base class of every error nextbest raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a configuration, located as precisely as we can."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.message}"


class ConfigError(NextbestError):
    """A configuration folder did not load; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"configuration has {len(problems)} problem(s):\n{lines}")


class RequestError(NextbestError):
    """A decision or outcome request that cannot be served as given; names the field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFoundError(NextbestError):
    """A referenced decision, action, profile or record does not exist."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ConflictError(NextbestError):
    """A request the record's current state does not allow (an unmerge already done)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class StoreError(NextbestError):
    """The store cannot be opened or used (bad URL, missing driver, migration failure)."""
