"""Load a configuration folder: parse, validate, cross-check, compile — all or nothing.

Every problem in every file is collected before anything is reported, so a marketer fixes
a broken folder in one round instead of one error at a time. Nothing is returned unless
the whole folder is valid; the engine keeps its previous version otherwise.

Folder layout:
    nextbest.yaml        channels, placements, purposes, arbitration settings
    schema.yaml          profile fields and context fields (types, PII, protected)
    policies.yaml        all-actions engagement policies, contact policies, context weights
    issues/*.yaml        one business issue per file: groups → actions → treatments
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.meta
import jinja2.sandbox
import numpy as np
from pydantic import BaseModel, ValidationError
from scipy import sparse

from nextbest.config.compiled import (
    ENGAGEMENT_STAGES,
    Action,
    CompiledConfig,
    ContactRule,
    ContextWeight,
    LimitRule,
    SuppressionRule,
    Treatment,
    Trigger,
)
from nextbest.config.models import (
    IssueFile,
    LimitPolicy,
    PoliciesFile,
    SchemaFile,
    SettingsFile,
    ValidWindow,
)
from nextbest.config.source import PathKey, SourceFile, YamlProblem, parse_yaml, read_folder
from nextbest.errors import ConfigError, Problem
from nextbest.profile.features import Feature
from nextbest.rules import CompiledRule, RuleError, RuleType, TypeEnv, compile_rule, parse_type

M = TypeVar("M", bound=BaseModel)

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
SETTINGS_FILE = "nextbest.yaml"
SCHEMA_FILE = "schema.yaml"
POLICIES_FILE = "policies.yaml"
ISSUES_DIR = "issues/"

_ENVIRONMENTS = {
    html: jinja2.sandbox.ImmutableSandboxedEnvironment(
        autoescape=html, undefined=jinja2.Undefined, keep_trailing_newline=True
    )
    for html in (False, True)
}


def load_config(folder: str | Path) -> CompiledConfig:
    """Load and compile the configuration folder, or raise ConfigError with every problem."""
    path = Path(folder)
    if not path.is_dir():
        raise ConfigError([Problem(str(path), None, "configuration folder not found")])
    return compile_config(read_folder(path))


def compile_config(files: Mapping[str, str]) -> CompiledConfig:
    """Compile config files given as {relative path: YAML text}."""
    return _Builder(dict(files)).build()


def config_version(files: Mapping[str, str]) -> str:
    """Content hash of the folder: the same files give the same version id."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(files[name].encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _did_you_mean(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" — did you mean `{close[0]}`?" if close else ""


def _epoch(value: date | datetime | None, default: float) -> float:
    if value is None:
        return default
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


class _Builder:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.problems: list[Problem] = []
        self.sources: dict[str, SourceFile] = {}
        self.rules: list[CompiledRule] = []
        self.rule_keys: dict[str, int] = {}
        self.complete = True

    # --- reporting -------------------------------------------------------------------

    def problem(self, src: SourceFile | str, path: PathKey, message: str) -> None:
        if isinstance(src, SourceFile):
            self.problems.append(Problem(src.path, src.line(path), message))
        else:
            self.problems.append(Problem(src, None, message))

    def _validation_problems(self, src: SourceFile, exc: ValidationError) -> None:
        for err in exc.errors():
            loc = err["loc"]
            real: list[str | int] = []
            cur: Any = src.data
            for item in loc:
                if isinstance(cur, dict) and item in cur:  # noqa: SIM114 - split so mypy can narrow `item`
                    real.append(item)
                    cur = cur[item]
                elif isinstance(cur, list) and isinstance(item, int) and 0 <= item < len(cur):
                    real.append(item)
                    cur = cur[item]
            where = self._describe(src, tuple(real))
            name = next((str(x) for x in reversed(loc) if isinstance(x, str)), "")
            if err["type"] == "extra_forbidden":
                message = f"unknown field `{name}`"
            elif err["type"] == "missing":
                message = f"`{name}` is required"
            elif loc and loc[-1] == "[key]":  # a mapping's key, e.g. a channel's name
                message = f"`{loc[-2]}` is not a valid name: letters, digits, `_`, `.`, `-`"
            elif err["type"] == "union_tag_invalid":
                message = f"`type` must be one of {err.get('ctx', {}).get('expected_tags', '')}"
            else:
                msg = str(err["msg"]).removeprefix("Value error, ")
                message = f"`{name}`: {msg}" if name else msg
            self.problem(src, tuple(real), where + message)

    def _describe(self, src: SourceFile, path: PathKey) -> str:
        """A prefix naming the action or group a path lies in, for readable messages."""
        data: Any = src.data
        label = ""
        for i, item in enumerate(path):
            if isinstance(data, dict):
                data = data.get(item) if isinstance(item, str) else None
            elif isinstance(data, list) and isinstance(item, int) and item < len(data):
                data = data[item]
                parent = path[i - 1] if i else None
                if isinstance(data, dict):
                    if parent == "actions" and isinstance(data.get("id"), str):
                        label = f"action `{data['id']}`: "
                    elif parent == "groups" and isinstance(data.get("group"), str):
                        label = f"group `{data['group']}`: "
                    elif parent == "treatments" and isinstance(data.get("id"), str):
                        label = f"treatment `{data['id']}`: "
                    elif parent == "contact_policies" and isinstance(data.get("id"), str):
                        label = f"contact policy `{data['id']}`: "
            else:
                break
        return label

    def _validate(self, name: str, model: type[M]) -> M | None:
        src = self.sources.get(name)
        if src is None:
            return None
        if not isinstance(src.data, dict):
            self.problem(src, (), "expected a mapping of `key: value` entries at the top level")
            return None
        try:
            return model.model_validate(src.data)
        except ValidationError as exc:
            self._validation_problems(src, exc)
            return None

    # --- rules -----------------------------------------------------------------------

    def rule(
        self,
        src: SourceFile,
        path: PathKey,
        text: str,
        env: TypeEnv,
        expect: RuleType | None = RuleType.BOOL,
    ) -> int | None:
        try:
            compiled = compile_rule(text, env, expect=expect)
        except RuleError as exc:
            where = self._describe(src, path)
            self.problem(src, path, f"{where}rule `{text.strip()}`: {exc}")
            return None
        key = f"{expect}:{compiled.key}"
        if key not in self.rule_keys:
            self.rule_keys[key] = len(self.rules)
            self.rules.append(compiled)
        return self.rule_keys[key]

    def rule_list(
        self, src: SourceFile, path: PathKey, texts: Sequence[str], env: TypeEnv
    ) -> list[int]:
        raw = src.data
        for item in path:
            raw = raw.get(item) if isinstance(raw, dict) else None
        indices = []
        for i, text in enumerate(texts):
            sub = (*path, i) if isinstance(raw, list) else path
            idx = self.rule(src, sub, text, env)
            if idx is not None:
                indices.append(idx)
        return indices

    # --- the build -------------------------------------------------------------------

    def build(self) -> CompiledConfig:
        for name, text in sorted(self.files.items()):
            known = name in (SETTINGS_FILE, SCHEMA_FILE, POLICIES_FILE) or (
                name.startswith(ISSUES_DIR) and name.endswith((".yaml", ".yml"))
            )
            if not known:
                self.problem(
                    name,
                    (),
                    "unexpected file; a configuration folder holds nextbest.yaml, schema.yaml, "
                    "policies.yaml and issues/*.yaml",
                )
                continue
            try:
                self.sources[name] = parse_yaml(name, text)
            except YamlProblem as exc:
                self.problems.append(Problem(name, exc.line, exc.message))
        for required in (SETTINGS_FILE, SCHEMA_FILE):
            if required not in self.files:
                self.problem(required, (), "file is missing")

        settings = self._validate(SETTINGS_FILE, SettingsFile)
        schema = self._validate(SCHEMA_FILE, SchemaFile)
        policies = self._validate(POLICIES_FILE, PoliciesFile) or PoliciesFile()
        issue_names = sorted(n for n in self.sources if n.startswith(ISSUES_DIR))
        issues = [(n, self._validate(n, IssueFile)) for n in issue_names]
        if not issue_names and not self.problems:
            self.problem("issues/", (), "no issue files: add at least one issues/<issue>.yaml")

        env = self._type_env(schema) if schema is not None else None
        if settings is None or schema is None or env is None:
            raise ConfigError(self.problems)

        config = self._compile(settings, schema, env, policies, issues)
        if self.problems or config is None:
            raise ConfigError(self.problems)
        return config

    def _check_sources(self, schema: SchemaFile) -> bool:
        """Trait sources: named once each; a field writable only by known ones."""
        src = self.sources[SCHEMA_FILE]
        ok = True
        for i, name in enumerate(schema.sources):
            if not _NAME.match(name):
                self.problem(src, ("sources", i), f"source `{name}`: use lower-case a-z, 0-9, -, _")
                ok = False
            elif name in schema.sources[:i]:
                self.problem(src, ("sources", i), f"source `{name}` is listed twice")
                ok = False
        known = schema.known_sources
        for field_name, spec in schema.profile.items():
            for i, name in enumerate(spec.sources or ()):
                if name not in known:
                    self.problem(
                        src,
                        ("profile", field_name, "sources", i),
                        f"field `{field_name}`: unknown source `{name}`"
                        + _did_you_mean(name, known),
                    )
                    ok = False
            if spec.retention is not None and spec.retention.total_seconds() <= 0:
                self.problem(
                    src,
                    ("profile", field_name, "retention"),
                    f"field `{field_name}`: the retention must be positive",
                )
                ok = False
        return ok

    def _type_env(self, schema: SchemaFile) -> TypeEnv | None:
        src = self.sources[SCHEMA_FILE]
        types: dict[str, dict[str, RuleType]] = {"profile": {}, "context": {}}
        ok = True
        for section in ("profile", "context"):
            for field_name, spec in getattr(schema, section).items():
                try:
                    types[section][field_name] = parse_type(spec.type)
                except ValueError as exc:
                    self.problem(src, (section, field_name), f"field `{field_name}`: {exc}")
                    ok = False
        for name, feature in schema.features.items():
            where = ("features", name)
            if name in types["profile"]:
                self.problem(src, where, f"feature `{name}`: a profile field has that name")
                ok = False
            elif feature.aggregate != "count" and feature.property is None:
                self.problem(
                    src, where, f"feature `{name}`: `{feature.aggregate}` needs a `property`"
                )
                ok = False
            elif feature.type == "text" and feature.aggregate != "last":
                self.problem(src, where, f"feature `{name}`: only `last` can be text")
                ok = False
            elif feature.window.total_seconds() <= 0:
                self.problem(
                    src, (*where, "window"), f"feature `{name}`: the window must be positive"
                )
                ok = False
            else:
                # rules and models read a feature like a profile field
                types["profile"][name] = (
                    RuleType.TEXT if feature.type == "text" else RuleType.NUMBER
                )
        ok = self._check_sources(schema) and ok
        if not ok:
            return None
        protected = frozenset(n for n, s in schema.profile.items() if s.protected)
        return TypeEnv(profile=types["profile"], context=types["context"], protected=protected)

    def _compile(
        self,
        settings: SettingsFile,
        schema: SchemaFile,
        env: TypeEnv,
        policies: PoliciesFile,
        issues: list[tuple[str, IssueFile | None]],
    ) -> CompiledConfig | None:
        settings_src = self.sources[SETTINGS_FILE]
        tz_field = settings.arbitration.timezone_field
        if tz_field not in schema.profile:
            pass  # no per-customer time zone: quiet hours use the default time zone
        try:
            import zoneinfo

            zoneinfo.ZoneInfo(settings.arbitration.default_timezone)
        except Exception:
            self.problem(
                settings_src,
                ("arbitration", "default_timezone"),
                f"unknown time zone `{settings.arbitration.default_timezone}`",
            )

        # all-actions engagement policies
        pol_src = self.sources.get(POLICIES_FILE)
        global_rules: dict[str, list[int]] = {}
        for stage in ENGAGEMENT_STAGES:
            texts = getattr(policies, stage)
            global_rules[stage] = (
                self.rule_list(pol_src, (stage,), texts, env) if pol_src is not None else []
            )

        actions: list[Action] = []
        action_lines: dict[str, tuple[SourceFile, PathKey]] = {}
        treatment_ids: dict[str, tuple[SourceFile, PathKey]] = {}
        issue_seen: dict[str, str] = {}
        issue_names: list[str] = []
        group_keys: list[str] = []
        valid_windows: list[tuple[float, float]] = []
        value_const: list[float] = []

        for file_name, issue in issues:
            if issue is None:
                continue
            src = self.sources[file_name]
            if issue.issue in issue_seen:
                self.problem(
                    src,
                    ("issue",),
                    f"issue `{issue.issue}` is already defined in {issue_seen[issue.issue]}",
                )
                continue
            issue_seen[issue.issue] = file_name
            issue_names.append(issue.issue)
            issue_rules = {
                s: self.rule_list(src, (s,), getattr(issue, s), env) for s in ENGAGEMENT_STAGES
            }
            seen_groups: set[str] = set()
            for gi, group in enumerate(issue.groups):
                gpath: PathKey = ("groups", gi)
                if group.group in seen_groups:
                    self.problem(
                        src,
                        (*gpath, "group"),
                        f"group `{group.group}` appears twice in issue `{issue.issue}`",
                    )
                    continue
                seen_groups.add(group.group)
                group_key = f"{issue.issue}/{group.group}"
                group_keys.append(group_key)
                group_rules = {
                    s: self.rule_list(src, (*gpath, s), getattr(group, s), env)
                    for s in ENGAGEMENT_STAGES
                }
                for ai, spec in enumerate(group.actions):
                    apath: PathKey = (*gpath, "actions", ai)
                    if spec.id in action_lines:
                        other_src, other_path = action_lines[spec.id]
                        self.problem(
                            src,
                            (*apath, "id"),
                            f"action id `{spec.id}` is already used in {other_src.path} "
                            f"line {other_src.line(other_path)}",
                        )
                        continue
                    action_lines[spec.id] = (src, (*apath, "id"))
                    stage_rules = {
                        s: tuple(
                            global_rules[s]
                            + issue_rules[s]
                            + group_rules[s]
                            + self.rule_list(src, (*apath, s), getattr(spec, s), env)
                        )
                        for s in ENGAGEMENT_STAGES
                    }
                    if spec.purpose not in settings.purposes:
                        self.problem(
                            src,
                            (*apath, "purpose"),
                            f"action `{spec.id}`: unknown consent purpose `{spec.purpose}`"
                            + _did_you_mean(spec.purpose, list(settings.purposes)),
                        )
                    value: float | None = None
                    value_rule: int | None = None
                    if isinstance(spec.value, str):
                        value_rule = self.rule(
                            src, (*apath, "value"), spec.value, env, expect=RuleType.NUMBER
                        )
                    else:
                        value = float(spec.value)
                        if value < 0:
                            self.problem(
                                src, (*apath, "value"), f"action `{spec.id}`: value is negative"
                            )
                    treatments = self._treatments(
                        src, apath, spec.id, spec.treatments, settings, schema, treatment_ids
                    )
                    valid_windows.append(self._window(src, apath, spec.id, spec.valid))
                    value_const.append(np.nan if value is None else value)
                    actions.append(
                        Action(
                            index=len(actions),
                            id=spec.id,
                            name=spec.name or spec.id,
                            issue=issue.issue,
                            group=group_key,
                            purpose=spec.purpose,
                            min_assurance=spec.min_assurance,
                            tags=tuple(spec.tags),
                            enabled=spec.enabled,
                            value=value,
                            value_rule=value_rule,
                            lever=issue.lever * group.lever * spec.lever,
                            stage_rules=stage_rules,
                            treatments=tuple(treatments),
                        )
                    )

        action_index = {a.id: a.index for a in actions}
        # when an issue file failed to validate, its actions, groups and issues are unknown:
        # reporting every reference to them as dangling would only bury the real problem
        self.complete = all(issue is not None for _, issue in issues)
        if self.complete:
            self._check_fallbacks(settings, action_index, actions)
        contact_rules = self._contact_rules(policies, settings, issue_names, group_keys)
        context_weights = self._context_weights(policies, env, actions, issue_names, group_keys)
        triggers = self._triggers(policies, settings, env, action_index)
        if self.problems:
            return None
        return self._assemble(
            settings,
            schema,
            env,
            actions,
            issue_names,
            group_keys,
            valid_windows,
            value_const,
            contact_rules,
            context_weights,
            triggers,
        )

    def _triggers(
        self,
        policies: PoliciesFile,
        settings: SettingsFile,
        env: TypeEnv,
        action_index: Mapping[str, int],
    ) -> list[Trigger]:
        src = self.sources.get(POLICIES_FILE)
        outbound = [c for c, spec in settings.channels.items() if spec.direction == "outbound"]
        out = []
        for i, spec in enumerate(policies.triggers):
            assert src is not None
            path: PathKey = ("triggers", i)
            rule = self.rule(src, (*path, "when"), spec.when, env) if spec.when else None
            for action in spec.actions:
                if action not in action_index and self.complete:
                    self.problem(
                        src,
                        (*path, "actions"),
                        f"trigger `{spec.id}`: unknown action `{action}`"
                        + _did_you_mean(action, list(action_index)),
                    )
            for channel in spec.channels:
                if channel not in outbound:
                    self.problem(
                        src,
                        (*path, "channels"),
                        f"trigger `{spec.id}`: `{channel}` is not an outbound channel "
                        f"(outbound: {', '.join(outbound) or 'none'})",
                    )
            out.append(
                Trigger(
                    id=spec.id,
                    on=spec.on,
                    event=spec.event,
                    where=tuple(sorted(spec.where.items())),
                    rule=rule,
                    cooldown=spec.cooldown.total_seconds(),
                    actions=tuple(spec.actions),
                    channels=tuple(spec.channels or outbound),
                    assurance_level=spec.assurance_level,
                )
            )
        if len({t.id for t in out}) != len(out):
            self.problem(src or POLICIES_FILE, ("triggers",), "trigger ids must be unique")
        return out

    def _window(
        self, src: SourceFile, apath: PathKey, action_id: str, valid: ValidWindow | None
    ) -> tuple[float, float]:
        if valid is None:
            return (-np.inf, np.inf)
        start = _epoch(valid.from_, -np.inf)
        end = _epoch(valid.until, np.inf)
        if start >= end:
            self.problem(
                src,
                (*apath, "valid"),
                f"action `{action_id}`: validity ends before it starts",
            )
        return (start, end)

    def _treatments(
        self,
        src: SourceFile,
        apath: PathKey,
        action_id: str,
        specs: Sequence[Any],
        settings: SettingsFile,
        schema: SchemaFile,
        seen: dict[str, tuple[SourceFile, PathKey]],
    ) -> list[Treatment]:
        result = []
        for ti, spec in enumerate(specs):
            tpath: PathKey = (*apath, "treatments", ti)
            label = f"treatment `{spec.id}`: "
            if spec.id in seen:
                other_src, other_path = seen[spec.id]
                self.problem(
                    src,
                    (*tpath, "id"),
                    f"{label}id is already used in {other_src.path} "
                    f"line {other_src.line(other_path)}",
                )
                continue
            seen[spec.id] = (src, (*tpath, "id"))
            channel = settings.channels.get(spec.channel)
            if channel is None:
                self.problem(
                    src,
                    (*tpath, "channel"),
                    f"{label}unknown channel `{spec.channel}`"
                    + _did_you_mean(spec.channel, list(settings.channels)),
                )
                continue
            if spec.placement not in channel.placements:
                self.problem(
                    src,
                    (*tpath, "placement"),
                    f"{label}channel `{spec.channel}` has no placement `{spec.placement}`"
                    + _did_you_mean(spec.placement, list(channel.placements)),
                )
                continue
            template = None
            if "{" in spec.content:
                environment = _ENVIRONMENTS[channel.content_type == "html"]
                try:
                    parsed = environment.parse(spec.content)
                    names = jinja2.meta.find_undeclared_variables(parsed)
                    for name in sorted(names):
                        if name not in schema.profile:
                            self.problem(
                                src,
                                (*tpath, "content"),
                                f"{label}content uses `{{{{ {name} }}}}`, which is not a "
                                "profile field" + _did_you_mean(name, list(schema.profile)),
                            )
                        elif schema.profile[name].protected:
                            self.problem(
                                src,
                                (*tpath, "content"),
                                f"{label}content uses the protected attribute `{name}`",
                            )
                    template = environment.from_string(spec.content)
                except jinja2.TemplateSyntaxError as exc:
                    self.problem(src, (*tpath, "content"), f"{label}content: {exc.message}")
            result.append(
                Treatment(
                    id=spec.id,
                    action_id=action_id,
                    channel=spec.channel,
                    placement=spec.placement,
                    content=spec.content,
                    template=template,
                )
            )
        return result

    def _check_fallbacks(
        self, settings: SettingsFile, action_index: dict[str, int], actions: list[Action]
    ) -> None:
        src = self.sources[SETTINGS_FILE]
        for channel_name, channel in settings.channels.items():
            for placement_name, placement in channel.placements.items():
                fallback = placement.fallback
                if fallback is None:
                    continue
                path: PathKey = ("channels", channel_name, "placements", placement_name)
                if fallback not in action_index:
                    self.problem(
                        src,
                        (*path, "fallback"),
                        f"fallback `{fallback}` is not an action"
                        + _did_you_mean(fallback, list(action_index)),
                    )
                    continue
                action = actions[action_index[fallback]]
                if not any(
                    t.channel == channel_name and t.placement == placement_name
                    for t in action.treatments
                ):
                    self.problem(
                        src,
                        (*path, "fallback"),
                        f"fallback `{fallback}` has no treatment for {channel_name}/"
                        f"{placement_name}",
                    )

    def _contact_rules(
        self,
        policies: PoliciesFile,
        settings: SettingsFile,
        issue_names: list[str],
        group_keys: list[str],
    ) -> list[ContactRule]:
        src = self.sources.get(POLICIES_FILE)
        rules: list[ContactRule] = []
        seen: set[str] = set()
        for i, spec in enumerate(policies.contact_policies):
            assert src is not None
            path: PathKey = ("contact_policies", i)
            label = f"contact policy `{spec.id}`: "
            if spec.id in seen:
                self.problem(src, (*path, "id"), f"{label}id is used twice")
            seen.add(spec.id)
            if spec.channel is not None and spec.channel not in settings.channels:
                self.problem(
                    src,
                    (*path, "channel"),
                    f"{label}unknown channel `{spec.channel}`"
                    + _did_you_mean(spec.channel, list(settings.channels)),
                )
            if isinstance(spec, LimitPolicy):
                if spec.issue is not None and spec.issue not in issue_names and self.complete:
                    self.problem(
                        src,
                        (*path, "issue"),
                        f"{label}unknown issue `{spec.issue}`"
                        + _did_you_mean(spec.issue, issue_names),
                    )
                group = None
                if spec.group is not None:
                    matches = [
                        g for g in group_keys if g == spec.group or g.endswith("/" + spec.group)
                    ]
                    if len(matches) != 1 and self.complete:
                        self.problem(
                            src,
                            (*path, "group"),
                            f"{label}unknown group `{spec.group}`"
                            if not matches
                            else f"{label}group `{spec.group}` is ambiguous; write issue/group",
                        )
                    else:
                        group = matches[0]
                rules.append(
                    LimitRule(
                        id=spec.id,
                        level=spec.level,
                        channel=spec.channel,
                        issue=spec.issue,
                        group=group,
                        max=spec.max,
                        window=spec.window,
                    )
                )
            else:
                rules.append(
                    SuppressionRule(
                        id=spec.id,
                        level=spec.level,
                        channel=spec.channel,
                        after=spec.after,
                        count=spec.count,
                        window=spec.window,
                        pause=spec.pause,
                    )
                )
        return rules

    def _context_weights(
        self,
        policies: PoliciesFile,
        env: TypeEnv,
        actions: list[Action],
        issue_names: list[str],
        group_keys: list[str],
    ) -> list[ContextWeight]:
        src = self.sources.get(POLICIES_FILE)
        weights = []
        action_ids = [a.id for a in actions]
        tags = sorted({t for a in actions for t in a.tags})
        for i, spec in enumerate(policies.context_weights):
            assert src is not None
            path: PathKey = ("context_weights", i)
            rule = self.rule(src, (*path, "when"), spec.when, env)
            tests: list[Callable[[Action], bool]] = []
            checks = (
                ("issue", spec.issue, issue_names, lambda a, v: a.issue == v),
                (
                    "group",
                    spec.group,
                    group_keys,
                    lambda a, v: a.group.endswith("/" + v) or a.group == v,
                ),
                ("action", spec.action, action_ids, lambda a, v: a.id == v),
                ("tag", spec.tag, tags, lambda a, v: v in a.tags),
            )
            for key, wanted, known, match in checks:
                if wanted is None:
                    continue
                names = known if key != "group" else [*known, *(g.split("/")[1] for g in known)]
                if wanted not in names and self.complete:
                    self.problem(
                        src,
                        (*path, key),
                        f"context weight: unknown {key} `{wanted}`" + _did_you_mean(wanted, names),
                    )
                tests.append(lambda a, v=wanted, m=match: bool(m(a, v)))  # type: ignore[misc]
            applies = np.array([all(t(a) for t in tests) for a in actions], dtype=bool)
            if rule is not None:
                weights.append(ContextWeight(rule=rule, weight=spec.weight, applies=applies))
        return weights

    def _assemble(
        self,
        settings: SettingsFile,
        schema: SchemaFile,
        env: TypeEnv,
        actions: list[Action],
        issue_names: list[str],
        group_keys: list[str],
        valid_windows: list[tuple[float, float]],
        value_const: list[float],
        contact_rules: list[ContactRule],
        context_weights: list[ContextWeight],
        triggers: list[Trigger],
    ) -> CompiledConfig:
        n = len(actions)
        issue_pos = {name: i for i, name in enumerate(issue_names)}
        group_pos = {name: i for i, name in enumerate(group_keys)}
        purpose_names = tuple(settings.purposes)
        purpose_pos = {name: i for i, name in enumerate(purpose_names)}

        # the stages' (actions × rules) matrices one above the other, walked once a decision
        # (`pipeline._stage_failures`)
        pairs = sorted(
            {
                (s * n + a.index, r)
                for s, stage in enumerate(ENGAGEMENT_STAGES)
                for a in actions
                for r in a.stage_rules[stage]
            }
        )
        rows = np.array([p[0] for p in pairs], dtype=np.int64)
        cols = np.array([p[1] for p in pairs], dtype=np.int64)
        stage_matrix = sparse.csr_matrix(
            (np.ones(len(pairs), dtype=np.int32), (rows, cols)),
            shape=(len(ENGAGEMENT_STAGES) * n, len(self.rules)),
        )

        candidates: dict[tuple[str, str], list[int]] = {}
        treatments: dict[tuple[str, str, int], list[Treatment]] = {}
        for action in actions:
            for t in action.treatments:
                key = (t.channel, t.placement, action.index)
                if key not in treatments:
                    candidates.setdefault((t.channel, t.placement), []).append(action.index)
                treatments.setdefault(key, []).append(t)

        channel_rules: dict[str, Any] = {}
        for channel in settings.channels:
            needed: set[int] = set()
            for (ch, _), idx in candidates.items():
                if ch != channel:
                    continue
                for i in idx:
                    a = actions[i]
                    for stage in ENGAGEMENT_STAGES:
                        needed.update(a.stage_rules[stage])
            channel_rules[channel] = np.array(sorted(needed), dtype=np.int64)

        windows = [r.window for r in contact_rules] + [
            r.window + r.pause for r in contact_rules if isinstance(r, SuppressionRule)
        ]
        return CompiledConfig(
            version=config_version(self.files),
            files=dict(self.files),
            name=settings.name,
            schema=schema,
            env=env,
            channels=dict(settings.channels),
            purposes=dict(settings.purposes),
            features=tuple(
                Feature(
                    name=name,
                    on=f.on,
                    event=f.event,
                    property=f.property,
                    aggregate=f.aggregate,
                    window=f.window.total_seconds(),
                    where=tuple(sorted(f.where.items())),
                )
                for name, f in schema.features.items()
            ),
            arbitration=settings.arbitration,
            learning=settings.learning,
            actions=tuple(actions),
            rules=tuple(self.rules),
            contact_rules=tuple(contact_rules),
            context_weights=tuple(context_weights),
            triggers=tuple(triggers),
            identity=settings.identity,
            retention=settings.retention,
            issues=tuple(issue_names),
            groups=tuple(group_keys),
            issue_idx=np.array([issue_pos[a.issue] for a in actions], dtype=np.int64),
            group_idx=np.array([group_pos[a.group] for a in actions], dtype=np.int64),
            lever=np.array([a.lever for a in actions], dtype=np.float64),
            min_assurance=np.array([a.min_assurance for a in actions], dtype=np.int64),
            valid_from=np.array([w[0] for w in valid_windows], dtype=np.float64).reshape(n),
            valid_until=np.array([w[1] for w in valid_windows], dtype=np.float64).reshape(n),
            enabled=np.array([a.enabled for a in actions], dtype=bool).reshape(n),
            purpose_idx=np.array([purpose_pos.get(a.purpose, 0) for a in actions], dtype=np.int64),
            purpose_names=purpose_names,
            value_const=np.array(value_const, dtype=np.float64).reshape(n),
            stage_matrix=stage_matrix,
            candidates={k: np.array(v, dtype=np.int64) for k, v in candidates.items()},
            treatments={k: tuple(v) for k, v in treatments.items()},
            action_index={a.id: a.index for a in actions},
            treatment_index={t.id: t for a in actions for t in a.treatments},
            channel_rules=channel_rules,
            max_history_window=max(windows, default=timedelta(0)),
        )
