"""The decision pipeline: request + profile + history + models → ranked actions.

`decide` is a pure function of its inputs (config, models, request, typed profile,
consents, history rows, time, seed): the same inputs give the same decision, which is what
makes replay and explanation possible. It does no I/O; `nextbest.decision.engine` loads the
inputs and records the result.

Stages, each a vectorised mask over the whole action library:
candidates → validity & kill switch → consent → eligibility → applicability → suitability →
contact policies → assurance (last, so step-up hints name only what verification would
unlock) → model maturity (outbound: immature models reach a growing share of sends) →
scoring (the models, or uniform draws for the sticky model control group) → arbitration (priority = P × C × V × L, top-N per
placement, at most `max_per_group` per group, no action twice, fallback).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from scipy import sparse

from nextbest.config.compiled import ENGAGEMENT_STAGES, CompiledConfig, ContextWeight
from nextbest.decision.redraw import redraw
from nextbest.errors import RequestError
from nextbest.learning.bank import model_features
from nextbest.learning.base import KnownPropensities, Posterior, PropensityModels
from nextbest.learning.uniform import UniformPropensities, in_control_group
from nextbest.policies.consent import PERSONALIZATION, permission_standing, purpose_standing
from nextbest.policies.contact import HistoryArrays, contact_blocks, quiet_hours_now
from nextbest.profile.traits import coerce_value
from nextbest.rules import Scope
from nextbest.store.base import ConsentRecord, ContactRow
from nextbest.types import (
    Decision,
    DecisionRequest,
    Direction,
    RankedAction,
    Removal,
    StepUp,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: propensities drawn for the selection-probability estimate before it stops redrawing
SAMPLE_BUDGET = 8192
#: how many more draws a one-slot request gets (its draws are the cheapest to arbitrate)
SINGLE_SLOT_FACTOR = 8
#: candidates a slot that the decision's own arbitration walks first (see `_select`)
SELECT_HEAD = 4
#: model factors named in an explained action's reasons
TOP_FACTORS = 3
#: the random model control group's propensities
UNIFORM = UniformPropensities()


@dataclass(frozen=True, slots=True)
class DecisionInputs:
    request: DecisionRequest
    profile: Mapping[str, Any]  # typed traits (see nextbest.profile.coerce_traits)
    raw_profile: Mapping[str, Any]  # stored traits, for rendering content
    consents: Sequence[ConsentRecord]  # the customer's purpose ledger
    permissions: Sequence[ConsentRecord]  # the customer's contact-permission ledger
    history: Sequence[ContactRow]
    now: datetime
    seed: int
    decision_id: str


@dataclass(frozen=True, slots=True)
class _Slate:
    """Which actions each placement gets, for one set of propensities."""

    picks: tuple[tuple[int, int, bool], ...]  # (placement position, action index, fallback)


@lru_cache(maxsize=512)
def _placement_masks(
    config: CompiledConfig, channel: str, names: tuple[str, ...]
) -> tuple[BoolArray, tuple[BoolArray, ...], IntArray]:
    n = config.n_actions
    per_placement = []
    for name in names:
        mask = np.zeros(n, dtype=bool)
        mask[config.candidates.get((channel, name), np.zeros(0, dtype=np.int64))] = True
        per_placement.append(mask)
    union = np.logical_or.reduce(per_placement) if per_placement else np.zeros(n, dtype=bool)
    rules = config.channel_rules.get(channel, np.zeros(0, dtype=np.int64))
    return union, tuple(per_placement), rules


def _check_request(config: CompiledConfig, request: DecisionRequest) -> tuple[Direction, Any]:
    channel = config.channels.get(request.channel)
    if channel is None:
        known = ", ".join(config.channels)
        raise RequestError("channel", f"unknown channel `{request.channel}` (known: {known})")
    if not request.placements:
        raise RequestError("placements", "name at least one placement")
    seen = set()
    for i, placement in enumerate(request.placements):
        spec = channel.placements.get(placement.name)
        if spec is None:
            known = ", ".join(channel.placements)
            raise RequestError(
                f"placements[{i}].name",
                f"channel `{request.channel}` has no placement `{placement.name}` (known: {known})",
            )
        if placement.name in seen:
            raise RequestError(
                f"placements[{i}].name", f"placement `{placement.name}` is given twice"
            )
        seen.add(placement.name)
        if not 1 <= placement.count <= spec.max_count:
            raise RequestError(
                f"placements[{i}].count", f"count must be between 1 and {spec.max_count}"
            )
    if not 0 <= request.assurance_level <= 4:
        raise RequestError(
            "assurance_level", "must be between 0 (anonymous) and 4 (strongly verified)"
        )
    return request.direction or channel.direction, channel


def coerce_context(config: CompiledConfig, context: Mapping[str, Any]) -> dict[str, Any]:
    """Typed context for rules; a declared field of the wrong type is a request error."""
    typed: dict[str, Any] = {}
    for name, rtype in config.env.context.items():
        if name in context:
            try:
                typed[name] = coerce_value(rtype, context[name])
            except ValueError as exc:
                raise RequestError(f"context.{name}", str(exc)) from None
    return typed


def _select(
    priority: FloatArray,
    idx: IntArray,
    order: IntArray,
    in_placement: Sequence[BoolArray],
    counts: Sequence[int],
    group_idx: IntArray,
    max_per_group: int,
    fallbacks: Sequence[int | None],
    alive: BoolArray,
) -> _Slate:
    """Greedy arbitration over actions sorted by priority (`order` indexes `idx`).

    A slate nearly always fills from the first few candidates in order, so those are walked
    first; only if a placement is left short (masks, group limits) is the whole order walked
    again — the same walk, so the same slate. Converting every candidate to lists cost more
    than the walk itself."""

    def walk(k: int) -> _Slate:  # over the first k candidates in order
        top = order[:k]
        actions = idx[top]
        return _select_lists(
            priority[top].tolist(),
            actions.tolist(),
            range(k),
            [m[actions].tolist() for m in in_placement],
            counts,
            group_idx[actions].tolist(),
            max_per_group,
            fallbacks,
            alive,
        )

    head = min(len(order), SELECT_HEAD * sum(counts))
    slate = walk(head)
    filled = Counter(p for p, _, fallback in slate.picks if not fallback)
    if head < len(order) and any(filled[p] < count for p, count in enumerate(counts)):
        slate = walk(len(order))
    return slate


def _select_lists(
    priority: list[float],
    actions: list[int],
    order: Iterable[int],
    in_placement: list[list[bool]],
    counts: Sequence[int],
    groups: list[int],
    max_per_group: int,
    fallbacks: Sequence[int | None],
    alive: BoolArray,
) -> _Slate:
    # plain lists: numpy scalar access would cost more than the work itself (the decision's
    # own slate; the compiled redraws in nextbest.decision.redraw are tested against it)
    used: set[int] = set()
    picks: list[tuple[int, int, bool]] = []
    for p, count in enumerate(counts):
        mask = in_placement[p]
        taken = 0
        per_group: dict[int, int] = {}
        fb = fallbacks[p]
        for pos in order:
            a = actions[pos]
            # a placement's fallback is held back for when nothing else qualifies
            if a in used or not mask[pos] or not priority[pos] > 0 or a == fb:  # NaN too
                continue
            if max_per_group:
                g = groups[pos]
                if per_group.get(g, 0) >= max_per_group:
                    continue
                per_group[g] = per_group.get(g, 0) + 1
            used.add(a)
            picks.append((p, a, False))
            taken += 1
            if taken == count:
                break
        if taken == 0 and fb is not None and alive[fb] and fb not in used:
            used.add(fb)
            picks.append((p, fb, True))
    return _Slate(tuple(picks))


@numba.njit(cache=True, nogil=True)
def _stage_failures(
    indptr: npt.NDArray[np.integer[Any]],
    indices: npt.NDArray[np.integer[Any]],
    failed: npt.NDArray[np.integer[Any]],
    alive: BoolArray,
    stages: int,
) -> BoolArray:
    """(stages, actions): where an action still alive at that stage has a failed rule in
    it. Row s·n + a of the CSR stage matrix (`CompiledConfig.stage_matrix`) lists the rules
    guarding action a in stage s. Only the actions still alive are walked: the product
    with the whole matrix also marked actions already removed, which `remove` ignores."""
    n = alive.shape[0]
    out = np.zeros((stages, n), np.bool_)
    live = alive.copy()
    for stage in range(stages):
        for a in range(n):
            if not live[a]:
                continue
            row = stage * n + a
            for k in range(indptr[row], indptr[row + 1]):
                if failed[indices[k]]:
                    out[stage, a] = True
                    live[a] = False
                    break
    return out


def warm_up() -> None:
    """Compile (or load from numba's cache) `_stage_failures` for the stage matrix's index
    type (scipy's int32) now, not in the first decision."""
    matrix = sparse.csr_matrix(np.ones((1, 1), dtype=np.int32))
    _stage_failures(matrix.indptr, matrix.indices, np.zeros(1, np.int32), np.ones(1, bool), 1)


def _order(priority: FloatArray, idx: IntArray) -> IntArray:
    # highest priority first; ties go to the action defined first, so results are stable
    return np.lexsort((idx, -priority)).astype(np.int64)


def decide(config: CompiledConfig, models: PropensityModels, inputs: DecisionInputs) -> Decision:
    request = inputs.request
    direction, channel_spec = _check_request(config, request)
    context = coerce_context(config, request.context)
    explain = request.explain
    n = config.n_actions
    now_ts = inputs.now.timestamp()
    rng = np.random.default_rng(inputs.seed)
    names = tuple(p.name for p in request.placements)
    union, in_placement, needed_rules = _placement_masks(config, request.channel, names)

    alive = union.copy()
    removed: list[Removal] = []

    def remove(fail: BoolArray, stage: str, why: str, rules: dict[int, str] | None = None) -> None:
        nonlocal alive
        newly = alive & fail
        if explain:
            for i in np.flatnonzero(newly):
                rule = rules.get(int(i)) if rules else None
                removed.append(Removal(config.actions[i].id, stage, why, rule))
        alive &= ~fail

    if request.candidates:  # an event trigger's own actions only
        asked = np.zeros(n, dtype=bool)
        asked[[config.action_index[a] for a in request.candidates if a in config.action_index]] = (
            True
        )
        remove(~asked, "candidates", "not one of the requested actions")
    # validity and kill switch
    remove(~config.enabled, "validity", "switched off")
    remove(
        (config.valid_from > now_ts) | (config.valid_until <= now_ts),
        "validity",
        "outside its validity window",
    )

    # consent, from the ledgers at this moment: a consent-based purpose needs a current
    # grant under its current policy, legitimate interest yields to an objection, and an
    # objection to direct marketing stops every direct-marketing purpose; a channel that
    # needs a contact permission needs a current one
    standing = purpose_standing(config.purposes, inputs.consents, now_ts)
    for p, name in enumerate(config.purpose_names):
        if not standing[name].allowed:
            remove(config.purpose_idx == p, "consent", f"purpose `{name}`: {standing[name].reason}")
    if channel_spec.permission:
        permit = permission_standing([request.channel], inputs.permissions, now_ts)
        if not permit[request.channel].allowed:
            remove(np.ones(n, dtype=bool), "consent", permit[request.channel].reason)
    # without consent to personalization, only the request's context is used: no traits
    # in rules, models or content (contact history still counts: limits protect the customer)
    personal = PERSONALIZATION not in standing or standing[PERSONALIZATION].allowed
    profile = inputs.profile if personal else {}
    raw_profile = inputs.raw_profile if personal else {}

    # engagement policies: each distinct rule at most once
    scope = Scope(profile=profile, context=context, now=inputs.now)
    results: dict[int, bool] = {}
    failed = np.zeros(len(config.rules), dtype=np.int32)
    if alive.any():
        # every rule a candidate on this channel might need, each once: evaluating (~1 µs)
        # is cheaper than first asking which of them still guard a live action
        for r in needed_rules.tolist():
            if not (results.setdefault(r, config.rules[r].test(scope))):
                failed[r] = 1
    stages = config.stage_matrix
    failing = _stage_failures(stages.indptr, stages.indices, failed, alive, len(ENGAGEMENT_STAGES))
    for stage, fail in zip(ENGAGEMENT_STAGES, failing, strict=True):
        if not alive.any():
            break
        first_rule: dict[int, str] | None = None
        if explain:
            first_rule = {}
            for i in np.flatnonzero(alive & fail):
                for r in config.actions[i].stage_rules[stage]:
                    if results.get(r) is False:
                        first_rule[int(i)] = config.rules[r].text
                        break
        remove(fail, stage, f"{stage} rule not met", first_rule)

    # contact policies and quiet hours
    if alive.any():
        if direction is Direction.OUTBOUND and channel_spec.quiet_hours is not None:
            tz = profile.get(config.arbitration.timezone_field)
            if quiet_hours_now(
                config, request.channel, inputs.now, tz if isinstance(tz, str) else None
            ):
                remove(np.ones(n, dtype=bool), "contact_policy", "quiet hours", None)
        history = HistoryArrays.build(config, inputs.history)
        blocked, by_policy = contact_blocks(config, request.channel, history, now_ts)
        remove(blocked, "contact_policy", "contact policy", by_policy)

    # assurance, checked last among the filters: an action that needs a better-identified
    # session is left out, and — since it passed everything else — named in a step-up
    # hint, so the channel knows what verifying the customer would unlock
    too_low = config.min_assurance > request.assurance_level
    step_up = tuple(
        StepUp(config.actions[i].id, int(config.min_assurance[i]))
        for i in np.flatnonzero(alive & too_low)
    )
    remove(
        too_low, "assurance", f"needs a higher identity assurance than {request.assurance_level}"
    )

    learning = config.learning
    # model maturity: on outbound channels a model short of `maturity.positives` reaches
    # only a share of the eligible sends, rising linearly from `maturity.min_share` — but
    # only where a mature action is there to send instead (a new library explores freely)
    exposure = np.ones(n)
    maturity = learning.maturity
    if direction is Direction.OUTBOUND and maturity.positives > 0 and alive.any():
        live = np.flatnonzero(alive)
        grown = np.minimum(models.positives(live, request.channel) / maturity.positives, 1.0)
        if (grown >= 1).any():
            exposure[live] = maturity.min_share + (1 - maturity.min_share) * grown
            held = np.zeros(n, dtype=bool)
            held[live] = rng.random(len(live)) >= exposure[live]
            remove(held, "maturity", "model still learning: held back from this send")

    # the model control group (sticky per customer and month) scores with random
    # propensities; maturity above still came from the real models
    control = in_control_group(request.customer_id, inputs.now, learning.control_group)
    if control:
        models = UNIFORM
    features = model_features(config, profile, context)

    # scoring
    idx = np.flatnonzero(alive).astype(np.int64)
    posterior = models.posterior(idx, request.channel, features)
    mean = posterior.mean()
    thompson = config.arbitration.exploration == "thompson"
    propensity = posterior.sample(rng)[0] if thompson else mean
    value = config.value_const[idx].copy()
    computed: dict[int, float] = {}  # value expressions, like rules, once per decision
    for pos in np.flatnonzero(np.isnan(value)):
        rule_index = config.actions[idx[pos]].value_rule
        if rule_index is None:
            value[pos] = 0.0
            continue
        if rule_index not in computed:
            result = config.rules[rule_index].evaluate(scope)
            numeric = isinstance(result, (int, float)) and not isinstance(result, bool)
            number = float(result) if numeric else 0.0
            # a value is worth something or nothing: NaN and ±inf count as nothing
            computed[rule_index] = number if math.isfinite(number) and number > 0 else 0.0
        value[pos] = computed[rule_index]
    weight = np.ones(len(idx))
    weighed: list[ContextWeight] = []  # the context weights that apply, in order
    for cw in config.context_weights:
        applies = cw.applies[idx]
        if not applies.any():
            continue
        ok = results.get(cw.rule)
        if ok is None:
            ok = results[cw.rule] = config.rules[cw.rule].test(scope)
        if ok:
            weight = np.where(applies, weight * cw.weight, weight)
            weighed.append(cw)
    lever = config.lever[idx]
    scale = weight * value * lever
    priority = propensity * scale

    # arbitration
    counts = [p.count for p in request.placements]
    fallbacks = [
        config.action_index.get(channel_spec.placements[name].fallback or "", None)
        for name in names
    ]
    max_per_group = config.arbitration.max_per_group
    groups = config.group_idx
    order = _order(priority, idx)
    slate = _select(
        priority, idx, order, in_placement, counts, groups, max_per_group, fallbacks, alive
    )

    probability = _selection_probabilities(
        config, posterior, rng, idx, scale, priority, slate, in_placement, counts, fallbacks,
        alive,
    )  # fmt: skip

    actions: list[RankedAction] = []
    rank = {p: 0 for p in range(len(names))}
    chosen = set()
    for p, a, is_fallback in slate.picks:
        rank[p] += 1
        chosen.add(a)
        at = int(np.searchsorted(idx, a))  # idx is ascending
        placement = names[p]
        variants = config.treatments[(request.channel, placement, a)]
        treatment = variants[int(rng.integers(len(variants)))] if len(variants) > 1 else variants[0]
        content = (
            treatment.template.render(raw_profile)
            if treatment.template is not None
            else treatment.content
        )
        reasons = [
            f"passed {sum(len(config.actions[a].stage_rules[s]) for s in ENGAGEMENT_STAGES)} engagement rules",
            # named for the returned actions only (formatting them for every candidate
            # cost more than the weighting)
            *(
                f"context `{config.rules[cw.rule].text}` ×{cw.weight:g}"
                for cw in weighed
                if cw.applies[a]
            ),
        ]
        if is_fallback:
            reasons.append("fallback: nothing else qualified")
        if explain and not control:
            factors = models.explain(a, request.channel, features)
            top = sorted(factors.items(), key=lambda kv: -abs(kv[1]))[:TOP_FACTORS]
            if top:
                reasons.append(
                    "model: "
                    + ", ".join(f"{name} = {features.get(name)!s} ({c:+.2f})" for name, c in top)
                )
        actions.append(
            RankedAction(
                action_id=config.actions[a].id,
                treatment_id=treatment.id,
                issue=config.actions[a].issue,
                group=config.actions[a].group.split("/", 1)[1],
                channel=request.channel,
                placement=placement,
                rank=rank[p],
                content=content,
                propensity=float(propensity[at]),
                model_propensity=float(mean[at]),
                value=float(value[at]),
                lever=float(lever[at]),
                context_weight=float(weight[at]),
                priority=float(priority[at]),
                # conditional on the maturity draw; times the chance of passing it
                selection_probability=probability.get((p, a), 0.0) * float(exposure[a]),
                fallback=is_fallback,
                reasons=tuple(reasons),
            )
        )
    if explain:
        for pos in order:
            a = int(idx[pos])
            if a not in chosen:
                removed.append(
                    Removal(
                        config.actions[a].id,
                        "arbitration",
                        f"priority {priority[pos]:.4g} ranked below the selected actions",
                    )
                )
    return Decision(
        decision_id=inputs.decision_id,
        time=inputs.now,
        config_version=config.version,
        customer_id=request.customer_id,
        interaction_id=request.interaction_id,
        channel=request.channel,
        direction=direction,
        actions=tuple(actions),
        step_up=step_up,
        removed=tuple(removed),
        seed=inputs.seed,
        features=features,
        model_control_group=control,
        reconsent_required=tuple(n for n, st in standing.items() if st.reconsent_required),
    )


def _selection_probabilities(
    config: CompiledConfig,
    posterior: Posterior,
    rng: np.random.Generator,
    idx: IntArray,
    scale: FloatArray,
    priority: FloatArray,
    slate: _Slate,
    in_placement: Sequence[BoolArray],
    counts: Sequence[int],
    fallbacks: Sequence[int | None],
    alive: BoolArray,
) -> dict[tuple[int, int], float]:
    """P(action a lands in placement p) under Thompson sampling, by Monte Carlo.

    There is no closed form for top-N-with-groups selection over Beta draws, so the slate is
    re-drawn `selection_draws` times (see `nextbest.decision.redraw`, which draws only the
    actions that could still matter); the decision's own draw counts as one of them.
    Deterministic arbitration gives 1.
    """
    picked = {(p, a) for p, a, _ in slate.picks}
    draws = config.arbitration.selection_draws
    if config.arbitration.exploration != "thompson" or draws == 0 or len(idx) == 0:
        return dict.fromkeys(picked, 1.0)
    _, hi = posterior.bounds()
    # the lowest priority the decision's own slate took, if it filled every placement
    taken = [a for _, a, fallback in slate.picks if not fallback]
    full = len(taken) == sum(counts)
    lowest = float(priority[np.searchsorted(idx, taken)].min()) if full else None
    single_slot = len(counts) == 1 and counts[0] == 1
    exact = isinstance(posterior, KnownPropensities)  # every draw is the mean
    redrawn = redraw(
        posterior.a,
        posterior.b,
        scale,
        hi * scale,
        idx,
        in_placement,
        counts,
        config.group_idx,
        config.arbitration.max_per_group,
        fallbacks,
        alive,
        rows=1 if exact else draws * SINGLE_SLOT_FACTOR if single_slot else draws,
        budget=SAMPLE_BUDGET,
        rng=rng,
        lowest=lowest,
        given=(posterior.mean() * scale)[None, :] if exact else None,
    )
    n_actions = len(alive)
    keys = redrawn.placed * n_actions + redrawn.picked
    # the decision's own draw is one of the samples
    return {
        (p, a): (1 + int(np.count_nonzero(keys == p * n_actions + a))) / (redrawn.rows + 1)
        for p, a in picked
    }
