"""Loading configuration folders: every problem reported with file and line, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextbest.config import load_config
from nextbest.errors import ConfigError, Problem
from nextbest.testing import SMALL_BANK, make_config, make_engine, write_config


def problems(files: dict[str, str | None]) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        make_config(files)
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def test_small_bank_compiles() -> None:
    config = make_config()
    assert config.n_actions == 4
    assert config.issues == ("cross-sell", "information")
    assert config.groups == ("cross-sell/cards", "cross-sell/savings", "information/tips")
    gold = config.action("gold-card")
    # all-actions eligibility, issue suitability, then the action's own rules
    texts = {s: [config.rules[r].text for r in rules] for s, rules in gold.stage_rules.items()}
    assert texts["eligibility"] == ["age >= 18"]
    assert texts["applicability"] == ['not owns("GOLD_CARD")']
    assert texts["suitability"] == ["not in_arrears", "income >= 30000"]


def test_shared_rules_compile_once() -> None:
    config = make_config()
    # `age >= 18` guards every action but exists once
    assert [r.text for r in config.rules].count("age >= 18") == 1


def test_version_is_a_content_hash() -> None:
    assert make_config().version == make_config().version
    changed = SMALL_BANK["issues/information.yaml"].replace("value: 1", "value: 2")
    assert make_config({"issues/information.yaml": changed}).version != make_config().version


def test_yaml_syntax_error_names_file_and_line() -> None:
    broken = "issue: x\ngroups:\n  - group: a\n    actions: [\n"
    [p] = problems({"issues/broken.yaml": broken})
    assert p.file == "issues/broken.yaml"
    assert p.line is not None and p.line >= 4
    assert "YAML syntax error" in p.message


def test_unknown_field_names_the_field_and_line() -> None:
    text = SMALL_BANK["issues/information.yaml"].replace(
        "value: 1", "value: 1\n        colour: red"
    )
    [p] = problems({"issues/information.yaml": text})
    assert p.file == "issues/information.yaml"
    assert p.line == line_of(text, "colour")
    assert p.message == "action `info-tips`: unknown field `colour`"


@pytest.mark.parametrize("name", ["*", "web@eu", "all channels"])
def test_a_channel_name_that_a_model_id_could_not_hold_is_refused(name: str) -> None:
    """Model ids are `action@channel`, and `action@*` is the pooled model's: a channel
    named `*` (or holding `@`) would share its models' keys with another's."""
    text = SMALL_BANK["nextbest.yaml"].replace("  email:\n", f'  "{name}":\n', 1)
    [p] = problems({"nextbest.yaml": text})
    assert p.file == "nextbest.yaml" and p.line == line_of(text, f'"{name}"')
    assert p.message.startswith(f"`{name}` is not a valid name")


def test_rule_type_mismatch_points_at_the_rule() -> None:
    text = SMALL_BANK["issues/cross-sell.yaml"].replace("income >= 30000", 'income >= "rich"')
    [p] = problems({"issues/cross-sell.yaml": text})
    assert p.line == line_of(text, 'income >= "rich"')
    assert "action `gold-card`" in p.message
    assert "cannot compare a number with text" in p.message


def test_unknown_function_is_reported() -> None:
    text = SMALL_BANK["issues/cross-sell.yaml"].replace('owns("GOLD_CARD")', 'own("GOLD_CARD")')
    [p] = problems({"issues/cross-sell.yaml": text})
    assert p.line == line_of(text, 'own("GOLD_CARD")')
    assert "unknown function `own`" in p.message


def test_unknown_profile_field_in_rule() -> None:
    text = SMALL_BANK["policies.yaml"].replace("age >= 18", "agee >= 18")
    [p] = problems({"policies.yaml": text})
    assert (p.file, p.line) == ("policies.yaml", 1)
    assert "unknown field `agee`" in p.message and "age" in p.message


def test_protected_attribute_cannot_be_used_in_a_rule() -> None:
    text = SMALL_BANK["policies.yaml"].replace("age >= 18", 'age >= 18 and gender == "f"')
    [p] = problems({"policies.yaml": text})
    assert "protected" in p.message


def test_duplicate_action_id_across_files() -> None:
    text = SMALL_BANK["issues/information.yaml"].replace("id: info-tips\n", "id: gold-card\n")
    found = problems(
        {
            "issues/information.yaml": text,
            "nextbest.yaml": SMALL_BANK["nextbest.yaml"].replace("{fallback: info-tips}", "{}"),
        }
    )
    assert len(found) == 1
    [p] = found
    assert p.file == "issues/information.yaml"
    assert p.line == line_of(text, "id: gold-card")
    expected_line = line_of(SMALL_BANK["issues/cross-sell.yaml"], "id: gold-card")
    assert p.message == (
        f"action id `gold-card` is already used in issues/cross-sell.yaml line {expected_line}"
    )


def test_duplicate_treatment_id() -> None:
    text = SMALL_BANK["issues/cross-sell.yaml"].replace("id: savings-side", "id: savings-hero")
    [p] = problems({"issues/cross-sell.yaml": text})
    assert p.line == line_of(text, "id: savings-hero, channel: web, placement: sidebar")
    assert "treatment `savings-hero`: id is already used" in p.message


def test_dangling_references() -> None:
    text = (
        SMALL_BANK["issues/cross-sell.yaml"]
        .replace(
            "purpose: marketing\n        min_assurance: 1",
            "purpose: marketting\n        min_assurance: 1",
        )
        .replace(
            "channel: email, placement: body, content: Save",
            "channel: e-mail, placement: body, content: Save",
        )
    )
    policies = SMALL_BANK["policies.yaml"].replace("group: cards", "group: kards")
    settings = SMALL_BANK["nextbest.yaml"].replace("fallback: info-tips", "fallback: info-tip")
    found = problems(
        {"issues/cross-sell.yaml": text, "policies.yaml": policies, "nextbest.yaml": settings}
    )
    messages = {(p.file, p.line, p.message) for p in found}
    assert (
        "issues/cross-sell.yaml",
        line_of(text, "marketting"),
        "action `gold-card`: unknown consent purpose `marketting` — did you mean `marketing`?",
    ) in messages
    assert (
        "issues/cross-sell.yaml",
        line_of(text, "channel: e-mail"),
        "treatment `savings-mail`: unknown channel `e-mail` — did you mean `email`?",
    ) in messages
    assert (
        "policies.yaml",
        line_of(policies, "kards"),
        "context weight: unknown group `kards` — did you mean `cards`?",
    ) in messages
    assert (
        "nextbest.yaml",
        line_of(settings, "fallback: info-tip"),
        "fallback `info-tip` is not an action — did you mean `info-tips`?",
    ) in messages
    assert len(found) == 4


def test_every_problem_is_reported_at_once() -> None:
    bad_issue = SMALL_BANK["issues/information.yaml"].replace(
        "value: 1", "value: -1\n        extra: 1"
    )
    bad_schema = SMALL_BANK["schema.yaml"].replace("age: number", "age: numbr")
    found = problems({"issues/information.yaml": bad_issue, "schema.yaml": bad_schema})
    assert {p.file for p in found} == {"issues/information.yaml", "schema.yaml"}


def test_missing_required_field() -> None:
    text = SMALL_BANK["issues/information.yaml"].replace("        purpose: service\n", "")
    [p] = problems({"issues/information.yaml": text})
    assert p.message == "action `info-tips`: `purpose` is required"
    assert p.line == line_of(text, "id: info-tips")


def test_missing_files_and_unexpected_files() -> None:
    found = problems({"schema.yaml": None, "notes.yaml": "a: 1"})
    assert ("schema.yaml", "file is missing") in {(p.file, p.message) for p in found}
    assert any(p.file == "notes.yaml" and "unexpected file" in p.message for p in found)


def test_template_tokens_must_be_profile_fields() -> None:
    text = SMALL_BANK["issues/cross-sell.yaml"].replace("{{ first_name }}", "{{ firstname }}")
    [p] = problems({"issues/cross-sell.yaml": text})
    assert "`{{ firstname }}`, which is not a profile field" in p.message


def test_contact_policy_with_bad_window() -> None:
    text = SMALL_BANK["policies.yaml"].replace("window: 1d", "window: one day")
    [p] = problems({"policies.yaml": text})
    assert p.line == line_of(text, "one day")
    assert "not a duration" in p.message


def test_load_from_folder(tmp_path: Path) -> None:
    write_config(tmp_path, SMALL_BANK)
    assert load_config(tmp_path).version == make_config().version
    with pytest.raises(ConfigError, match="configuration folder not found"):
        load_config(tmp_path / "nope")


def test_reload_with_broken_config_keeps_previous_version(tmp_path: Path) -> None:
    engine = make_engine()
    before = engine.config
    broken = dict(SMALL_BANK)
    broken["policies.yaml"] = "eligibility: age >=\n"
    write_config(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        engine.reload(tmp_path)
    assert info.value.problems[0].file == "policies.yaml"
    assert engine.config is before
    # and a good folder replaces it
    good = tmp_path / "good"
    write_config(good, SMALL_BANK)
    engine.reload(good)
    assert engine.config is not before and engine.config.version == before.version


def test_demo_bank_is_valid() -> None:
    from nextbest.decision.engine import default_config_dir

    config = load_config(default_config_dir())
    assert 90 <= config.n_actions <= 130
    assert len(config.issues) == 6
