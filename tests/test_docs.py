"""Documentation stays complete: every CLI command and every configuration key is described."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import BaseModel

from nextbest.cli import app
from nextbest.config import models

DOCS = Path(__file__).resolve().parent.parent / "docs"


def command_names(typer_app: typer.Typer, prefix: str = "") -> list[str]:
    names = []
    for command in typer_app.registered_commands:
        assert command.callback is not None
        names.append(prefix + (command.name or command.callback.__name__.replace("_", "-")))
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None and group.name is not None
        names += command_names(group.typer_instance, f"{prefix}{group.name} ")
    return names


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    names = command_names(app)
    assert len(names) >= 7
    for name in names:
        assert f"## `nextbest {name}`" in text, f"docs/cli.md lacks `nextbest {name}`"


def test_every_configuration_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = []
    for model in vars(models).values():
        if (
            isinstance(model, type)
            and issubclass(model, BaseModel)
            and model.__module__ == models.__name__
        ):
            for name, field in model.model_fields.items():
                key = field.alias or name
                if f"`{key}`" not in text:
                    missing.append(f"{model.__name__}.{key}")
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one() -> None:
    root = DOCS.parent
    readme = (root / "README.md").read_text()
    assert "./scripts/demo" in readme and "./scripts/test" in readme
    assert "./scripts/test" in (root / ".ci" / "run").read_text()


def test_every_api_route_is_documented() -> None:
    from nextbest.api import create_app
    from nextbest.testing import make_engine

    text = (DOCS / "api.md").read_text()
    schema = create_app(make_engine()).openapi()
    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"`{method.upper()} {path}`" in text, (
                f"docs/api.md lacks {method.upper()} {path}"
            )
