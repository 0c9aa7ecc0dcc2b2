"""The JSON the decision API reads, validated with pydantic (every field named on error)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from nextbest.types import DecisionRequest, Direction, Placement

Text = Annotated[str, Field(min_length=1, max_length=200)]
Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlacementIn(_Strict):
    name: Text
    count: int = Field(default=1, ge=1, le=100)


class IdentityIn(_Strict):
    assurance_level: int = Field(default=0, ge=0, le=4)


class DecisionIn(_Strict):
    channel: Text
    placements: list[PlacementIn] = Field(min_length=1, max_length=20)
    customer_id: Text | None = None
    anonymous_ids: dict[Text, Text] = Field(default_factory=dict, max_length=20)
    direction: Direction | None = None
    context: dict[Text, Scalar] = Field(default_factory=dict, max_length=100)
    identity: IdentityIn = Field(default_factory=IdentityIn)
    interaction_id: Text | None = None
    explain: bool = False

    def to_request(self) -> DecisionRequest:
        return DecisionRequest(
            channel=self.channel,
            placements=tuple(Placement(p.name, p.count) for p in self.placements),
            customer_id=self.customer_id,
            anonymous_ids=dict(self.anonymous_ids),
            direction=self.direction,
            context=dict(self.context),
            assurance_level=self.identity.assurance_level,
            interaction_id=self.interaction_id,
            explain=self.explain,
        )


class OutcomeIn(_Strict):
    decision_id: Text
    action_id: Text
    outcome: Text
    value: float | None = None
    timestamp: AwareDatetime | None = None
    idempotency_key: Text | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


#: `POST /v1/outcomes` takes one outcome object, or an array of up to 1,000
OutcomeList = Annotated[list[OutcomeIn], Field(min_length=1, max_length=1000)]


class ConsentIn(_Strict):
    """One consent (`purpose`) or contact-permission (`channel`) record."""

    purpose: Text | None = None
    channel: Text | None = None
    status: Literal["granted", "denied", "revoked"]
    timestamp: AwareDatetime | None = None  # the status time; now if not given
    expires_at: AwareDatetime | None = None
    source: Text | None = None
    policy_version: int | None = Field(default=None, ge=1, le=1_000_000)


#: `POST /v1/profiles/{id}/consents` takes one record, or an array of up to 100
ConsentList = Annotated[list[ConsentIn], Field(min_length=1, max_length=100)]


class RegulationIn(_Strict):
    """A data-subject request over up to 5,000 customers (Segment's limit per call)."""

    type: Literal["suppress", "suppress_with_delete", "delete_only", "unsuppress"]
    customer_ids: list[Text] = Field(min_length=1, max_length=5000)


class ProfilePatch(_Strict):
    traits: dict[Text, Any] = Field(max_length=500)
    # the trait source the values come from (schema.yaml `sources:`; trait precedence)
    source: Text = "api"
