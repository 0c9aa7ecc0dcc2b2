"""YAML files read with their line numbers, so every problem can name file and line.

PyYAML's composer keeps a `start_mark` on every node; we walk the node tree ourselves and
remember, for each path (`("groups", 0, "actions", 2, "value")`), the line it starts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PathKey = tuple[str | int, ...]


@dataclass
class SourceFile:
    """One YAML file: its data and where each part of it starts."""

    path: str  # relative to the config folder, with forward slashes
    text: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line(self, path: PathKey) -> int | None:
        """The line of `path`, or of the nearest enclosing part that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


class YamlProblem(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


class _Loader(yaml.SafeLoader):
    """SafeLoader without YAML's surprising implicit types: dates and times stay text."""


# YAML 1.1 would turn `on`/`off`/`yes`/`no` into booleans and 2026-01-01 into a date; a
# marketer writing `channel: no` or `valid_from: 2026-01-01` should get what they wrote.
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "yYnNoO":
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx)
        for tag, rx in _Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:bool"
    ]


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int], loader: _Loader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                raise YamlProblem(key_node.start_mark.line + 1, "a key must be plain text")
            key = str(key)
            if key in result:
                raise YamlProblem(key_node.start_mark.line + 1, f"`{key}` is given twice")
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, (*path, key), lines, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(path: str, text: str) -> SourceFile:
    """Parse one YAML document; raise YamlProblem with the line of a syntax error."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[PathKey, int] = {}
        data = _walk(node, (), lines, loader) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlProblem(line, f"YAML syntax error: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    return SourceFile(path=path, text=text, data=data, lines=lines)


def read_folder(folder: Path) -> dict[str, str]:
    """Every `*.yaml`/`*.yml` file under `folder`, by relative path, sorted."""
    files: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix in (".yaml", ".yml"):
            files[p.relative_to(folder).as_posix()] = p.read_text(encoding="utf-8")
    return files


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
