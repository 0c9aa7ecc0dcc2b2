"""Fakes and factories for tests — ours and our users'.

from nextbest.testing import make_engine, SMALL_BANK
engine = make_engine()                      # in-memory store, fixed clock, small bank
engine = make_engine({"issues/x.yaml": ...})  # override or add files
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from nextbest.clock import FixedClock
from nextbest.config.compiled import CompiledConfig
from nextbest.config.loader import compile_config
from nextbest.decision.engine import Engine
from nextbest.store.memory import MemoryStore

__all__ = [
    "SMALL_BANK",
    "T0",
    "FixedClock",
    "MemoryStore",
    "make_config",
    "make_engine",
    "write_config",
]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC

SMALL_BANK: dict[str, str] = {
    "nextbest.yaml": """\
name: small bank
channels:
  web:
    direction: inbound
    placements:
      hero: {fallback: info-tips}
      sidebar: {}
  email:
    direction: outbound
    placements: [body]
    quiet_hours: {start: "21:00", end: "08:00"}
purposes:
  marketing: {basis: consent}
  service: {basis: legitimate_interest}
arbitration:
  max_per_group: 1
  default_timezone: Europe/Berlin
""",
    "schema.yaml": """\
profile:
  first_name: {type: text, pii: true}
  age: number
  income: number
  in_arrears: bool
  products: list<text>
  gender: {type: text, protected: true}
  timezone: text
context:
  page: text
""",
    "policies.yaml": """\
eligibility: age >= 18
contact_policies:
  - {id: email-daily, type: limit, channel: email, level: channel, max: 1, window: 1d}
  - {id: after-rejection, type: suppression, after: rejections, count: 1, window: 30d, pause: 30d}
context_weights:
  - {when: context.page == "cards", weight: 2.0, group: cards}
""",
    "issues/cross-sell.yaml": """\
issue: cross-sell
suitability: not in_arrears
groups:
  - group: cards
    actions:
      - id: gold-card
        value: 120
        purpose: marketing
        min_assurance: 1
        applicability: not owns("GOLD_CARD")
        suitability: income >= 30000
        treatments:
          - {id: gold-card-hero, channel: web, placement: hero, content: "{{ first_name }}, go gold"}
          - {id: gold-card-side, channel: web, placement: sidebar, content: Gold card}
          - {id: gold-card-mail, channel: email, placement: body, content: Gold card by mail}
      - id: student-card
        value: 40
        purpose: marketing
        eligibility: age < 30
        treatments:
          - {id: student-card-hero, channel: web, placement: hero, content: Student card}
          - {id: student-card-side, channel: web, placement: sidebar, content: Student card}
  - group: savings
    actions:
      - id: savings-plan
        value: 60
        purpose: marketing
        treatments:
          - {id: savings-hero, channel: web, placement: hero, content: Save more}
          - {id: savings-side, channel: web, placement: sidebar, content: Save more}
          - {id: savings-mail, channel: email, placement: body, content: Save more by mail}
""",
    "issues/information.yaml": """\
issue: information
groups:
  - group: tips
    actions:
      - id: info-tips
        value: 1
        purpose: service
        treatments:
          - {id: info-tips-hero, channel: web, placement: hero, content: Security tips}
          - {id: info-tips-side, channel: web, placement: sidebar, content: Security tips}
""",
}


def make_config(files: Mapping[str, str | None] | None = None) -> CompiledConfig:
    """The small bank, with `files` replacing or adding files (a None value removes one)."""
    merged = dict(SMALL_BANK)
    for name, text in (files or {}).items():
        if text is None:
            merged.pop(name, None)
        else:
            merged[name] = text
    return compile_config(merged)


def make_engine(
    files: Mapping[str, str | None] | None = None,
    *,
    clock: FixedClock | None = None,
    seed: int = 1,
) -> Engine:
    """An engine on an in-memory store with a fixed clock at `T0`."""
    return Engine(MemoryStore(), make_config(files), clock=clock or FixedClock(T0), seed=seed)


def write_config(folder: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
