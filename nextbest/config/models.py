"""The shape of each configuration file, as pydantic models.

These models check structure and simple values (unknown keys, types, ranges). Everything
that needs more than one file — rules against the schema, references between ids — is
checked when the folder is compiled (`nextbest.config.loader`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from nextbest.types import Direction

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Id = Annotated[str, Field(pattern=_ID, max_length=120)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: object) -> timedelta:
    """`30d`, `12h`, `15m`, `2w`, `45s` → timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"`{value}` is not a duration; write e.g. 7d, 12h, 30m or 2w")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _rule_list(value: object) -> object:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


RuleList = Annotated[list[str], BeforeValidator(_rule_list)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- schema.yaml -------------------------------------------------------------------------


class FieldSpec(_Model):
    type: str
    pii: bool = False
    protected: bool = False
    description: str | None = None
    # the only sources that may write this trait (of schema.yaml `sources:` and the
    # built-in api, import, events); none listed: any
    sources: list[str] | None = None
    # how long a value is kept after it was written; the purge job removes it then
    retention: Duration | None = None


def _field_spec(value: object) -> object:
    return {"type": value} if isinstance(value, str) else value


FieldEntry = Annotated[FieldSpec, BeforeValidator(_field_spec)]


class FeatureSpec(_Model):
    """A real-time feature: an aggregate of the customer's events over a sliding window."""

    on: Literal["track", "page", "screen", "identify"] = "track"
    event: str | None = None  # the track event (or page/screen name); none: every one
    property: str | None = None  # whose value is aggregated; `count` needs none
    aggregate: Literal["count", "sum", "min", "max", "avg", "last", "distinct"]
    window: Duration
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    type: Literal["number", "text"] = "number"  # `last` of a text property: text
    description: str | None = None


#: the sources of trait writes that need no declaring: PATCH /v1/profiles, `nextbest import
#: profiles`, Segment identify events
BUILTIN_SOURCES = ("api", "import", "events")


class SchemaFile(_Model):
    # trait precedence: a source listed earlier wins over one listed later; between equals,
    # and for sources not listed, the more recent value wins
    sources: list[str] = Field(default_factory=list)
    profile: dict[str, FieldEntry] = Field(default_factory=dict)
    context: dict[str, FieldEntry] = Field(default_factory=dict)
    features: dict[str, FeatureSpec] = Field(default_factory=dict)

    @property
    def known_sources(self) -> list[str]:
        """Every trait source a write may name: the declared ones, then the built-in."""
        return list(dict.fromkeys([*self.sources, *BUILTIN_SOURCES]))


# --- nextbest.yaml -----------------------------------------------------------------------


class QuietHours(_Model):
    start: time
    end: time

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, int):  # YAML reads 21:00 as sexagesimal 1260
            return time(value // 60, value % 60)
        return value


class PlacementSpec(_Model):
    fallback: str | None = None
    max_count: int = Field(default=10, ge=1, le=100)


def _placements(value: object) -> object:
    if isinstance(value, list):  # `placements: [hero, sidebar]`
        return {str(name): {} for name in value}
    if isinstance(value, dict):
        return {k: ({} if v is None else v) for k, v in value.items()}
    return value


class ChannelSpec(_Model):
    direction: Direction
    placements: Annotated[dict[str, PlacementSpec], BeforeValidator(_placements)]
    content_type: Literal["text", "html"] = "text"
    quiet_hours: QuietHours | None = None
    # Whether a returned decision counts as an impression for contact policies. Outbound
    # decisions are sends, so they always count; inbound ones by default only when the
    # channel reports an `impression` outcome.
    count_returned_as_impression: bool | None = None
    # whether the customer's contact permission for this channel is needed (e-mail, SMS,
    # push: ePrivacy wants prior consent); the permission ledger is kept apart from purposes
    permission: bool = False


class PurposeSpec(_Model):
    basis: Literal["consent", "legitimate_interest"]
    description: str | None = None
    # a grant given under an older version of the purpose's policy no longer counts
    policy_version: int = Field(default=1, ge=1)
    # direct marketing: an objection (purpose `direct_marketing` denied) switches it off
    direct_marketing: bool = False
    # Segment `context.consent.categoryPreferences` categories that grant or deny it
    segment_categories: list[str] = Field(default_factory=list)
    # RudderStack `context.consentManagement` consent ids (OneTrust, Ketch or custom
    # category ids) that grant or deny it
    consent_ids: list[str] = Field(default_factory=list)


class ArbitrationSpec(_Model):
    max_per_group: int = Field(default=1, ge=0)  # 0 = no limit
    exploration: Literal["thompson", "mean"] = "thompson"
    selection_draws: int = Field(default=32, ge=0, le=10_000)
    timezone_field: str = "timezone"
    default_timezone: str = "UTC"


class MaturitySpec(_Model):
    """Outbound exposure of immature models (Pega's `HandleModelMaturity`)."""

    positives: int = Field(default=200, ge=0)  # a model is mature at this many positives
    min_share: float = Field(default=0.02, ge=0, le=1)  # share of eligible sends a new one gets


class LearningSpec(_Model):
    model: Literal["adm", "beta"] = "adm"
    mode: Literal["adm", "improved"] = "improved"
    cold_start: Literal["hierarchical", "none"] = "hierarchical"
    prior_strength: float = Field(default=5.0, gt=0)
    reservoir: int = Field(default=500, ge=10, le=100_000)
    update_every: int = Field(default=1000, ge=1)
    min_positives: float = Field(default=50, ge=0)
    # one model per action for all channels, the channel a predictor (`request.channel`);
    # false: one per action × channel, Pega's default model context
    pool_channels: bool = True
    half_life: float | None = Field(default=None, gt=0)  # in responses
    half_life_time: Duration | None = None
    control_group: float = Field(default=0.02, ge=0, le=1)
    response_timeout: Duration | None = None
    timeout_outcome: Literal["ignored", "rejected"] = "ignored"
    maturity: MaturitySpec = MaturitySpec()
    exclude_predictors: list[str] = Field(default_factory=list)


class IdentitySpec(_Model):
    # national phone numbers are read in this region (ISO 3166 alpha-2)
    default_region: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    # an identifier already on another known customer's profile is not moved: it is
    # flagged as shared (a family's device, a shared mailbox) once it would link more
    # than this many known people
    max_people_per_identifier: int = Field(default=1, ge=1, le=100)


class RetentionSpec(_Model):
    """How long each store keeps its records (none: for ever); `nextbest purge` applies it."""

    events: Duration | None = None
    decisions: Duration | None = None  # with their actions
    interactions: Duration | None = None  # impressions and outcomes
    outbox: Duration | None = None
    quarantine: Duration | None = None
    # merge journal rows (they hold profile traits): older merges can no longer be undone,
    # an undone one keeps only that it was undone (so the pair still does not re-merge)
    merges: Duration | None = None
    # a profile not updated for this long is erased with everything about it
    profiles_inactive: Duration | None = None


class SettingsFile(_Model):
    name: str = "nextbest"
    channels: dict[Id, ChannelSpec]
    purposes: dict[str, PurposeSpec]
    identity: IdentitySpec = IdentitySpec()
    retention: RetentionSpec = RetentionSpec()
    arbitration: ArbitrationSpec = ArbitrationSpec()
    learning: LearningSpec = LearningSpec()


# --- policies.yaml -----------------------------------------------------------------------


class LimitPolicy(_Model):
    """At most `max` sends per customer within `window`, counted per `level`."""

    id: Id
    type: Literal["limit"]
    level: Literal["channel", "issue", "group", "action"] = "channel"
    channel: str | None = None
    issue: str | None = None
    group: str | None = None
    max: int = Field(ge=0)
    window: Duration
    description: str | None = None


class SuppressionPolicy(_Model):
    """Pause an action (or its group) for `pause` after `count` unanswered impressions or
    `count` rejections within `window`."""

    id: Id
    type: Literal["suppression"]
    level: Literal["action", "group"] = "action"
    channel: str | None = None
    after: Literal["impressions_without_response", "rejections"]
    count: int = Field(ge=1)
    window: Duration
    pause: Duration
    description: str | None = None


ContactPolicySpec = Annotated[LimitPolicy | SuppressionPolicy, Field(discriminator="type")]


class ContextWeightSpec(_Model):
    when: str
    weight: float = Field(ge=0)
    issue: str | None = None
    group: str | None = None
    action: str | None = None
    tag: str | None = None


class TriggerSpec(_Model):
    """An event that starts an outbound decision (the customer's preferred permitted
    channel) whose chosen message goes to the outbox."""

    id: Id
    on: Literal["track", "page", "screen", "identify"] = "track"
    event: str | None = None  # the track event (or page/screen name); none: every one
    where: dict[str, str | int | float | bool] = Field(default_factory=dict)
    when: str | None = None  # a rule over the profile and features, after the event
    cooldown: Duration = timedelta(days=1)  # per customer
    actions: list[str] = Field(min_length=1)  # the action ids it may send
    channels: list[str] = Field(default_factory=list)  # preference order; default: outbound
    assurance_level: int = Field(default=1, ge=0, le=4)  # of a message to a known address


class PoliciesFile(_Model):
    eligibility: RuleList = Field(default_factory=list)
    applicability: RuleList = Field(default_factory=list)
    suitability: RuleList = Field(default_factory=list)
    contact_policies: list[ContactPolicySpec] = Field(default_factory=list)
    context_weights: list[ContextWeightSpec] = Field(default_factory=list)
    triggers: list[TriggerSpec] = Field(default_factory=list)


# --- issues/*.yaml -----------------------------------------------------------------------


class TreatmentSpec(_Model):
    id: Id
    channel: str
    placement: str
    content: str = ""


class ValidWindow(_Model):
    from_: date | datetime | None = Field(default=None, alias="from")
    until: date | datetime | None = None


class ActionSpec(_Model):
    id: Id
    name: str | None = None
    description: str | None = None
    value: float | str = 1.0
    purpose: str
    min_assurance: int = Field(default=0, ge=0, le=4)
    valid: ValidWindow | None = None
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    lever: float = Field(default=1.0, ge=0)
    eligibility: RuleList = Field(default_factory=list)
    applicability: RuleList = Field(default_factory=list)
    suitability: RuleList = Field(default_factory=list)
    treatments: list[TreatmentSpec] = Field(min_length=1)


class GroupSpec(_Model):
    group: Id
    lever: float = Field(default=1.0, ge=0)
    eligibility: RuleList = Field(default_factory=list)
    applicability: RuleList = Field(default_factory=list)
    suitability: RuleList = Field(default_factory=list)
    actions: list[ActionSpec] = Field(min_length=1)


class IssueFile(_Model):
    issue: Id
    lever: float = Field(default=1.0, ge=0)
    eligibility: RuleList = Field(default_factory=list)
    applicability: RuleList = Field(default_factory=list)
    suitability: RuleList = Field(default_factory=list)
    groups: list[GroupSpec] = Field(min_length=1)
