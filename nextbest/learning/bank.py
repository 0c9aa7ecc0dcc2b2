"""The engine's bank of ADM-class models: one `AdmModel` per action (per action × channel
with `pool_channels` off, Pega's default model context).

What the bank adds to the models:

* **channels pooled** (`pool_channels`, the default) — an action's model learns from its
  responses on every channel, with the channel as a predictor (`request.channel`), instead
  of one model per action × channel learning each channel's share alone: five times the
  responses per model on the demo bank's five channels, and the channel's effect learned
  like any other predictor's;
* **one encoder for all models** — a customer's profile and context are binned once per
  decision, not once per action;
* **vectorised scoring** — each model context keeps its models' contributions in one array
  (actions × base bins of all predictors) refreshed when a model learns, so scoring every
  candidate of a decision is one gather, one sum and one classifier lookup;
* **exploration from a proper posterior** — a customer's propensity is the rate of the
  classifier bin their score falls into; its posterior is Beta(a₀ + d·n, b₀ + (1 − d)·n)
  with n the bin's evidence and d its rate (mode "adm": pos/n, exactly Pega's propensity
  with a Jeffreys prior a₀ = b₀ = ½; mode "improved": the model's calibrated σ(score));
* **cold start beyond the leader** — with `cold_start: hierarchical` the prior is not
  ½/½ but `prior_strength` pseudo-responses at the pooled success rate of the action's
  group on that channel (itself shrunk towards the channel's rate), so a new action starts
  at what its siblings achieve instead of at 0.5;
* **forgetting in time** (`half_life_time`) on top of the models' own half-life in
  responses.

Predictors are the declared profile fields that are neither PII nor protected (numbers →
numeric, text and true/false → symbolic; dates and lists are not used) and the context
fields (as `context.<name>`), minus `learning.exclude_predictors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.config.compiled import CompiledConfig
from nextbest.learning.adm import AdmModel
from nextbest.learning.base import Features, FloatArray, IntArray, Posterior
from nextbest.learning.beta import model_id
from nextbest.learning.binning import NUMERIC, SYMBOLIC, Encoder
from nextbest.learning.report import (
    ACTION_CONFIGURATION,
    ALL_CHANNELS,
    GROUP_CONFIGURATION,
    ModelReport,
)
from nextbest.learning.scoring import posterior_parameters
from nextbest.rules.types import RuleType

ENCODER_KEY = "bank/encoder"
GROUP_PREFIX = "group/"  # group models: "group/<issue>/<group>@<channel>"
#: the predictor holding the decision's channel in pooled models
CHANNEL_PREDICTOR = "request.channel"
RESERVOIR_SUFFIX = "/reservoir"
#: shares of the reservoir size at which (in bank responses) the shared encoder re-cuts its
#: numeric grids; the last is the reservoir itself, so that every model's reservoir still
#: holds all its responses and re-counting on the new grid is exact — then grids freeze
REGRID_SHARES = (0.1, 0.4, 1.0)
#: pseudo-responses of the channel-level rate in a group's pooled rate
GROUP_SHRINK = 10.0


@lru_cache(maxsize=64)
def predictor_kinds(config: CompiledConfig) -> dict[str, str]:
    """Model inputs of a configuration: name → numeric | symbolic."""
    kinds: dict[str, str] = {}
    excluded = set(config.learning.exclude_predictors)
    for section, prefix in (("profile", ""), ("context", "context.")):
        specs = getattr(config.schema, section)
        types = getattr(config.env, section)
        for name, spec in specs.items():
            if spec.pii or spec.protected or prefix + name in excluded:
                continue
            rtype = types.get(name)
            if rtype is RuleType.NUMBER:
                kinds[prefix + name] = NUMERIC
            elif rtype in (RuleType.TEXT, RuleType.BOOL):
                kinds[prefix + name] = SYMBOLIC
    for feature, fspec in config.schema.features.items():  # real-time features
        if feature not in excluded:
            kinds[feature] = SYMBOLIC if fspec.type == "text" else NUMERIC
    return kinds


def model_features(
    config: CompiledConfig, profile: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """The predictor values of one decision (never PII or protected fields)."""
    out: dict[str, Any] = {}
    for name in predictor_kinds(config):
        source, key = (context, name[8:]) if name.startswith("context.") else (profile, name)
        value = source.get(key)
        if value is not None:
            out[name] = value
    return out


class _Channel:
    """Scoring arrays of one model context (a channel, or all of them pooled): a column per
    action (and per group, for the group models that actions borrow from)."""

    def __init__(self, n: int, width: int, cuts: int, groups: int) -> None:
        # base-bin columns × actions: a customer's columns are then whole contiguous rows
        self.table = np.zeros((width, n))
        self.offset = np.zeros(n)
        self.cuts = np.full((n, cuts), np.inf)
        self.pos = np.zeros((n, cuts + 1))
        self.neg = np.zeros((n, cuts + 1))
        self.prior_a = np.full(n, 0.5)
        self.prior_b = np.full(n, 0.5)
        self.strength = np.full(n, 1.0)  # pseudo-responses of each action's prior
        self.positives = np.zeros(n)
        self.responses = np.zeros(n)
        # shared strength (mode "improved"): score = blend · own + (1 − blend) · (group + shift)
        self.group_table = np.zeros((width, groups))
        self.group_offset = np.zeros(groups)
        self.group_responses = np.zeros(groups)
        self.blend = np.ones(n)
        self.shift = np.zeros(n)


class AdmModels:
    """`PropensityModels` backed by ADM-class models (see the module docstring)."""

    def __init__(
        self,
        *,
        mode: str = "improved",
        cold_start: str = "hierarchical",
        prior_strength: float = 5.0,
        reservoir: int = 500,
        update_every: int = 1000,
        half_life: float | None = None,
        half_life_seconds: float | None = None,
        sharing: float = 300.0,
        min_positives: float = 50.0,
        pool_channels: bool = True,
    ) -> None:
        self.settings: dict[str, Any] = {
            "mode": mode,
            "reservoir": reservoir,
            "update_every": update_every,
            "half_life": half_life,
            "min_positives": min_positives,
        }
        self.cold_start = cold_start
        self.prior_strength = prior_strength
        # responses at which an action trusts its own model as much as its group's
        self.sharing = sharing if (mode == "improved" and cold_start == "hierarchical") else 0.0
        self.half_life_seconds = half_life_seconds
        self.pool_channels = pool_channels
        self._channel_seen = pool_channels  # is `request.channel` a predictor (see bind)
        self.encoder: Encoder | None = None
        self.models: dict[str, AdmModel] = {}
        self.learned_at: dict[str, float] = {}  # model id → time of its last response
        self.responses = 0
        self._encoder_saved = False  # is the encoder in the store (models index it)
        self._config: CompiledConfig | None = None
        self._channels: dict[str, _Channel] = {}
        self._offsets = np.zeros(0, dtype=np.int64)
        self._capacity: list[int] = []
        # the last decision's predictor values, channel and their columns (held, so `is` is
        # safe)
        self._cache: tuple[Features | None, str, npt.NDArray[np.int64]] | None = None

    @classmethod
    def from_config(cls, config: CompiledConfig) -> AdmModels:
        spec = config.learning
        return cls(
            mode=spec.mode,
            cold_start=spec.cold_start,
            prior_strength=spec.prior_strength,
            reservoir=spec.reservoir,
            update_every=spec.update_every,
            half_life=spec.half_life,
            min_positives=spec.min_positives,
            pool_channels=spec.pool_channels,
            half_life_seconds=(
                spec.half_life_time.total_seconds() if spec.half_life_time else None
            ),
        )

    # --- layout ----------------------------------------------------------------------

    def bind(self, config: CompiledConfig) -> None:
        kinds = predictor_kinds(config)
        # pooled models see the channel, unless excluded like any other predictor
        self._channel_seen = (
            self.pool_channels and CHANNEL_PREDICTOR not in config.learning.exclude_predictors
        )
        if self._channel_seen:
            kinds = {**kinds, CHANNEL_PREDICTOR: SYMBOLIC}
        if self.encoder is None:
            self.encoder = Encoder(kinds)
        else:
            for name, kind in kinds.items():
                if name not in self.encoder.seen:
                    self.encoder.add(name, kind)
        self._config = config
        self._layout()

    def _layout(self) -> None:
        """(Re)allocate every channel's arrays and fill them from the models."""
        config, enc = self._require()
        self._capacity = [
            enc.size(p) if enc.numeric[p] else max(16, 2 * enc.size(p)) for p in range(len(enc))
        ]
        self._offsets = np.concatenate(([0], np.cumsum(self._capacity)[:-1])).astype(np.int64)
        width = int(sum(self._capacity))
        cuts = max((len(m.class_cuts) for m in self.models.values()), default=0) + 4
        n = config.n_actions
        self._channels = {
            c: _Channel(n, width, cuts, len(config.groups)) for c in self._contexts(config)
        }
        self._cache = None
        for channel, arrays in self._channels.items():
            arrays.strength[:] = self.prior_strength
            for g in range(len(config.groups)):
                self._refresh_group(g, channel)
            for a in range(n):
                self._refresh(a, channel)
        self._refresh_priors()
        for channel in self._channels:
            for a in range(n):
                self._refresh_blend(a, channel)

    def _contexts(self, config: CompiledConfig) -> list[str]:
        """The model contexts in place of channels: every channel, or all in one."""
        return [ALL_CHANNELS] if self.pool_channels else list(config.channels)

    def _context(self, channel: str) -> str:
        return ALL_CHANNELS if self.pool_channels else channel

    def _with_channel(self, x: Features | None, channel: str) -> Features | None:
        """The predictor values a model sees: with the channel, when channels are pooled."""
        return {**(x or {}), CHANNEL_PREDICTOR: channel} if self._channel_seen else x

    def _require(self) -> tuple[CompiledConfig, Encoder]:
        if self._config is None or self.encoder is None:
            raise RuntimeError("bind() the models to a configuration first")
        return self._config, self.encoder

    def _model(self, action: int, channel: str) -> AdmModel | None:
        config, _ = self._require()
        return self.models.get(model_id(config.actions[action].id, channel))

    def _refresh(self, action: int, channel: str) -> None:
        """Copy one model's scoring tables into its channel's arrays."""
        arrays = self._channels[channel]
        model = self._model(action, channel)
        row = arrays.table[:, action]
        row[:] = 0.0
        if model is None:
            arrays.offset[action] = 0.0
            arrays.cuts[action] = np.inf
            arrays.pos[action] = 0.0
            arrays.neg[action] = 0.0
            arrays.positives[action] = 0.0
            arrays.responses[action] = 0.0
            self._refresh_blend(action, channel)
            return
        arrays.offset[action] = self._write_column(model, row)
        k = len(model.class_cuts)
        if k + 1 > arrays.pos.shape[1]:
            self._layout()  # a finer classifier than the arrays hold: grow them
            return
        arrays.cuts[action] = np.inf
        arrays.cuts[action, :k] = model.class_cuts
        arrays.pos[action] = 0.0
        arrays.neg[action] = 0.0
        arrays.pos[action, : k + 1] = model.class_pos
        arrays.neg[action, : k + 1] = model.class_neg
        arrays.positives[action] = model.total_pos
        arrays.responses[action] = model.total_pos + model.total_neg
        self._refresh_blend(action, channel)

    def _write_column(self, model: AdmModel, column: FloatArray) -> float:
        """A model's scoring table spread over every base bin; returns its offset."""
        model._flush()
        column[:] = 0.0
        for p, table in model.scoring_tables().items():
            capacity = self._capacity[p]
            group = model.group_of[p]
            groups = np.full(capacity, model._unseen_group(p), dtype=np.int64)
            known = min(len(group), capacity)
            groups[:known] = group[:known]
            start = self._offsets[p]
            column[start : start + capacity] = np.asarray(table)[groups]
        return model.offset()

    def _group_key(self, g: int, channel: str) -> str:
        config, _ = self._require()
        return f"{GROUP_PREFIX}{config.groups[g]}@{channel}"

    def _refresh_group(self, g: int, channel: str) -> None:
        arrays = self._channels[channel]
        model = self.models.get(self._group_key(g, channel))
        if model is None:
            arrays.group_table[:, g] = 0.0
            arrays.group_offset[g] = 0.0
            arrays.group_responses[g] = 0.0
            return
        arrays.group_offset[g] = self._write_column(model, arrays.group_table[:, g])
        arrays.group_responses[g] = model.total_pos + model.total_neg

    def _refresh_blend(self, action: int, channel: str) -> None:
        """How much an action trusts itself over its group, and its rate against the group's."""
        config, _ = self._require()
        arrays = self._channels[channel]
        group = self.models.get(self._group_key(int(config.group_idx[action]), channel))
        if not self.sharing or group is None:
            arrays.blend[action], arrays.shift[action] = 1.0, 0.0
            return
        n = arrays.responses[action]
        arrays.blend[action] = n / (n + self.sharing)
        group_rate = (group.total_pos + 0.5) / (group.total_pos + group.total_neg + 1)
        k = arrays.strength[action]
        own_rate = (arrays.positives[action] + k * group_rate) / (n + k)
        # the shift that moves the group's personalised propensities, averaged over its
        # recent customers, onto the action's own rate (Newton on mean σ(z + s) = rate)
        z = group.analysed_scores + group.offset()
        shift = float(np.log(own_rate / (1 - own_rate)) - np.log(group_rate / (1 - group_rate)))
        if len(z):
            for _ in range(6):
                p = 1 / (1 + np.exp(-np.clip(z + shift, -30, 30)))
                slope = float((p * (1 - p)).mean())
                if slope <= 1e-12:
                    break
                shift -= float(p.mean() - own_rate) / slope
        arrays.shift[action] = shift

    def _refresh_priors(self, channels: list[str] | None = None) -> None:
        config, _ = self._require()
        if self.cold_start != "hierarchical":
            return
        groups = config.group_idx
        for channel in channels or list(self._channels):
            arrays = self._channels[channel]
            pos, resp = arrays.positives, arrays.responses
            channel_rate = (pos.sum() + 1) / (resp.sum() + 2)
            g_pos = np.bincount(groups, weights=pos, minlength=len(config.groups))
            g_resp = np.bincount(groups, weights=resp, minlength=len(config.groups))
            rate = (g_pos + GROUP_SHRINK * channel_rate) / (g_resp + GROUP_SHRINK)
            strength = self._prior_strengths(groups, pos, resp, rate, len(config.groups))
            arrays.strength = strength[groups]
            arrays.prior_a = arrays.strength * rate[groups]
            arrays.prior_b = arrays.strength * (1 - rate[groups])

    def _prior_strengths(
        self, groups: IntArray, pos: FloatArray, resp: FloatArray, rate: FloatArray, n: int
    ) -> FloatArray:
        """Pseudo-responses of each group's prior, by the method of moments: how alike its
        actions' rates are. Siblings that differ a lot make a weak prior (the data takes
        over after a few responses); alike ones a strong one. `prior_strength` caps it
        and stands in until two siblings have 20 responses each."""
        strength = np.full(n, self.prior_strength)
        known = resp >= 20
        if known.sum() < 2:
            return strength
        own = np.where(known, (pos + 0.5) / (resp + 1), 0.0)
        count = np.bincount(groups[known], minlength=n)
        total = np.bincount(groups[known], weights=own[known], minlength=n)
        squares = np.bincount(groups[known], weights=own[known] ** 2, minlength=n)
        noise = np.bincount(
            groups[known], weights=(own * (1 - own) / np.maximum(resp, 1))[known], minlength=n
        )
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            spread = squares / count - mean**2 - noise / count  # between-sibling variance
            moments = rate * (1 - rate) / spread - 1
        usable = (count >= 2) & (spread > 0)
        strength[usable] = np.clip(moments[usable], 0.5, self.prior_strength)
        return strength

    # --- scoring ---------------------------------------------------------------------

    def _bins(self, x: Features | None, channel: str) -> npt.NDArray[np.int64]:
        _, enc = self._require()
        cache = self._cache
        if cache is not None and x is not None and cache[0] is x and cache[1] == channel:
            return cache[2]
        bins, _ = enc.encode(self._with_channel(x, channel) or {}, learn=False)
        capped = np.minimum(np.asarray(bins, dtype=np.int64), np.asarray(self._capacity) - 1)
        columns: npt.NDArray[np.int64] = self._offsets + capped
        self._cache = (x, channel, columns)
        return columns

    def posterior(self, actions: IntArray, channel: str, x: Features | None = None) -> Posterior:
        arrays = self._channels[self._context(channel)]
        a, b = posterior_parameters(
            self._bins(x, channel), np.asarray(actions, dtype=np.int64), arrays.table,
            arrays.offset, arrays.cuts, arrays.pos, arrays.neg, self.settings["mode"] == "improved",
            arrays.responses, bool(self.sharing), self._require()[0].group_idx, arrays.group_table,
            arrays.group_offset, arrays.group_responses, arrays.blend, arrays.shift,
            arrays.strength, self.cold_start == "hierarchical", arrays.prior_a, arrays.prior_b,
        )  # fmt: skip
        return Posterior(a, b)

    def explain(self, action: int, channel: str, x: Features) -> dict[str, float]:
        """What each predictor adds to the action's score for `x` — its own model's and,
        weighted as in scoring, its group model's contributions."""
        config, _ = self._require()
        context, seen = self._context(channel), self._with_channel(x, channel) or {}
        arrays = self._channels[context]
        own = self._model(action, context)
        out = dict(own.explain_one(seen)) if own is not None else {}
        blend = float(arrays.blend[action])
        if self.sharing and blend < 1:
            group = self.models.get(self._group_key(int(config.group_idx[action]), context))
            if group is not None:
                out = {k: v * blend for k, v in out.items()}
                for name, c in group.explain_one(seen).items():
                    out[name] = out.get(name, 0.0) + (1 - blend) * c
        return out

    def positives(self, actions: IntArray, channel: str) -> FloatArray:
        """Each model's (decayed) positive responses: its maturity."""
        return np.asarray(
            self._channels[self._context(channel)].positives[actions], dtype=np.float64
        )

    # --- learning --------------------------------------------------------------------

    def learn_one(
        self,
        action_id: str,
        channel: str,
        positive: bool,
        x: Features | None = None,
        at: float | None = None,
    ) -> dict[str, Any]:
        config, enc = self._require()
        x, channel = self._with_channel(x, channel), self._context(channel)
        key = model_id(action_id, channel)
        model = self.models.get(key)
        if model is None:
            model = self.models[key] = AdmModel(encoder=enc, **self.settings)
        if self.half_life_seconds and at is not None:
            last = self.learned_at.get(key)
            if last is not None and at > last:
                model.decay(0.5 ** ((at - last) / self.half_life_seconds))
        if at is not None:
            self.learned_at[key] = max(at, self.learned_at.get(key, at))
        sizes = [enc.size(p) for p in range(len(enc))]
        bins, raw = enc.encode(x or {}, learn=True)
        states: dict[str, Any] = {}
        action = config.action_index.get(action_id)
        learners = [(key, model)]
        if self.sharing and action is not None:
            group_key = self._group_key(int(config.group_idx[action]), channel)
            group = self.models.get(group_key)
            if group is None:
                group = self.models[group_key] = AdmModel(encoder=enc, **self.settings)
            learners.append((group_key, group))
        for learner_key, learner in learners:
            analysed_before = learner.next_analysis
            learner.learn_encoded(bins, raw, positive)
            states[learner_key] = self._light_state(learner_key, learner)
            if learner.next_analysis != analysed_before:
                states[learner_key + RESERVOIR_SUFFIX] = learner.reservoir_state()
        self.responses += 1
        regrid = self._regrid_due()
        if regrid and self._regrid():
            # a new grid re-bins every model: all of them are persisted again
            for other_key, other in self.models.items():
                states[other_key] = self._light_state(other_key, other)
                states[other_key + RESERVOIR_SUFFIX] = other.reservoir_state()
        grew = any(enc.size(p) > self._capacity[p] for p in range(len(sizes)))
        if not self._encoder_saved:
            # the models' states mean nothing without the encoder they index: the first
            # response saves it even if it did not change (else a restart finds no encoder
            # and so no models)
            states[ENCODER_KEY] = enc.to_state()
        if regrid or grew or len(enc) != len(sizes):
            self._layout()
            states[ENCODER_KEY] = enc.to_state()
        else:
            if [enc.size(p) for p in range(len(sizes))] != sizes:
                states[ENCODER_KEY] = enc.to_state()
            if action is not None and channel in self._channels:
                self._refresh(action, channel)
                self._refresh_priors([channel])
                if self.sharing:
                    g = int(config.group_idx[action])
                    self._refresh_group(g, channel)
                    for sibling in np.flatnonzero(config.group_idx == g):
                        self._refresh_blend(int(sibling), channel)
        self._cache = None
        self._encoder_saved = self._encoder_saved or ENCODER_KEY in states
        return states

    def _regrid_due(self) -> bool:
        _, enc = self._require()
        size = int(self.settings["reservoir"])
        return not enc.frozen and self.responses in {max(1, int(size * f)) for f in REGRID_SHARES}

    def _regrid(self) -> bool:
        """Re-cut the shared grids (then freeze them once past the reservoir size); every
        model analyses on the new grid. True if a grid changed."""
        _, enc = self._require()
        changed = enc.regrid()
        if changed:
            for model in self.models.values():
                model.analyse()
        enc.frozen = self.responses >= int(self.settings["reservoir"])
        return changed

    def learn_many(self, responses: Iterable[tuple[str, str, bool, Features | None]]) -> None:
        """Learn (action id, channel, positive, x) responses in bulk — replaying a history,
        warming a benchmark — and lay the scoring arrays out once at the end. Persist with
        `to_state()` afterwards."""
        config, enc = self._require()
        for action_id, decided_on, positive, seen in responses:
            x, channel = self._with_channel(seen, decided_on), self._context(decided_on)
            action = config.action_index.get(action_id)
            keys = [model_id(action_id, channel)]
            if self.sharing and action is not None:
                keys.append(self._group_key(int(config.group_idx[action]), channel))
            bins, raw = enc.encode(x or {}, learn=True)
            for key in keys:
                model = self.models.get(key)
                if model is None:
                    model = self.models[key] = AdmModel(encoder=enc, **self.settings)
                model.learn_encoded(bins, raw, positive)
            self.responses += 1
            if self._regrid_due():
                self._regrid()
        self._layout()

    def _light_state(self, key: str, model: AdmModel) -> dict[str, Any]:
        state = model.to_state(reservoir=False)
        if key in self.learned_at:
            state["learned_at"] = self.learned_at[key]
        return state

    # --- state -----------------------------------------------------------------------

    def to_state(self) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = {}
        if self.encoder is not None:
            states[ENCODER_KEY] = self.encoder.to_state()
        for key, model in self.models.items():
            states[key] = self._light_state(key, model)
            states[key + RESERVOIR_SUFFIX] = model.reservoir_state()
        return states

    def load_state(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        if ENCODER_KEY in states:
            self.encoder = Encoder.from_state(states[ENCODER_KEY])
            self._encoder_saved = True
        if self.encoder is None:
            return  # nothing learned yet: bind() creates the encoder
        for key, state in states.items():
            if key == ENCODER_KEY or key.endswith(RESERVOIR_SUFFIX) or "settings" not in state:
                continue
            model = AdmModel.from_state(state, encoder=self.encoder)
            reservoir = states.get(key + RESERVOIR_SUFFIX)
            if reservoir is not None:
                model.load_reservoir(reservoir)
            self.models[key] = model
            if "learned_at" in state:
                self.learned_at[key] = float(state["learned_at"])
            if not key.startswith(GROUP_PREFIX):  # group models see the same responses
                self.responses += model.responses
        if self._config is not None:
            self._layout()

    # --- reporting -------------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        rows = []
        for key, model, action_id, group, channel in self._listed():
            binning = model.binning()
            rows.append(
                {
                    "model_id": key,
                    "action_id": action_id,
                    "group": group,
                    "channel": channel,
                    "responses": binning.responses,
                    "positives": binning.positives,
                    "auc": binning.auc,
                    "propensity": (binning.positives + 0.5) / (binning.responses + 1),
                }
            )
        return rows

    def _listed(self) -> list[tuple[str, AdmModel, str | None, str, str]]:
        """(key, model, action id or None for a group model, "issue/group", channel) of
        every model of this configuration and model context, by key. Models of actions or
        groups no longer configured, or of another model context, are kept but not listed."""
        config, _ = self._require()
        listed: list[tuple[str, AdmModel, str | None, str, str]] = []
        for key, model in sorted(self.models.items()):
            name, _, channel = key.rpartition("@")
            if channel not in self._channels:
                continue
            if name.startswith(GROUP_PREFIX):
                group = name.removeprefix(GROUP_PREFIX)
                if group in config.codes.groups:
                    listed.append((key, model, None, group, channel))
            elif (index := config.action_index.get(name)) is not None:
                listed.append((key, model, name, config.actions[index].group, channel))
        return listed

    def reports(self, now: float) -> list[ModelReport]:
        config, _ = self._require()
        out = []
        for key, model, action_id, group, channel in self._listed():
            issue, _, group_name = group.partition("/")
            out.append(
                ModelReport(
                    model_id=key,
                    action_id=action_id or "",
                    issue=issue,
                    group=group_name,
                    channel=channel,
                    # pooled: every channel's, so no single direction
                    direction=config.channels[channel].direction
                    if channel in config.channels
                    else "",
                    binning=model.binning(),
                    snapshot_time=self.learned_at.get(key, now),
                    configuration=ACTION_CONFIGURATION if action_id else GROUP_CONFIGURATION,
                )
            )
        return out
