"""Thompson redraws of a decision's slate, drawn and arbitrated in compiled code (numba).

The selection-probability estimate (see `pipeline._selection_probabilities`) draws every
candidate's propensity again, arbitrates the slate again, and counts how often each
returned action comes back. Drawing all candidates for each redraw was the bulk of that
cost, though a slate rarely reaches far down: here each redraw draws the candidates in
order of their upper bounds, best first, and stops as soon as every placement is full with
actions worth more than the next candidate's upper bound — no later candidate can then
change the slate (up to the bounds, which a draw leaves with probability ≤ 0.3 %, about
1e-4 typically; see `Posterior.bounds`). A placement that cannot be filled draws them all.
The candidates a redraw will likely need (those whose bound reaches the decision's own
slate, and a tenth more) are drawn ahead for all redraws at once by numpy, which draws a
Beta in half the time numba does.

The arbitration is `pipeline._select_lists`'s: placements in order, each taking its best
positive, masked-in, not yet used actions — ties to the action defined first — at most
`max_per_group` of a group per placement, its fallback held back and taken only when
nothing else qualified. Taking, again and again, the best action that still qualifies is
the same as walking the sorted order (an action passed over never qualifies again), so
nothing is sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: redraws made whatever the sample budget
MIN_ROWS = 4
#: candidates drawn ahead: those whose bound reaches the decision's own slate, times this
#: (a redraw draws about as many as that on average; measured in decisions, 1.1 cost least
#: of 1.0, 1.1, 1.25 and 1.5: fewer unused draws ahead against more drawn one by one)
AHEAD = 1.1


@dataclass(frozen=True, slots=True)
class Redraws:
    """The picks of `rows` redraws: (placement, action) pairs, all rows one after another."""

    placed: IntArray
    picked: IntArray
    rows: int
    drawn: int  # propensities drawn in all


# inlined: a call passing arrays costs an atomic reference count per array, each way
@numba.njit(cache=True, nogil=True, inline="always")
def _arbitrate(
    r: int,
    values: FloatArray,
    drawn: IntArray,
    actions: IntArray,
    masks: BoolArray,
    counts: IntArray,
    groups: IntArray,
    max_per_group: int,
    fallbacks: IntArray,
    fallback_alive: BoolArray,
    fallback_column: IntArray,
    used: BoolArray,
    per_group: IntArray,
    placed: IntArray,
    picked: IntArray,
    columns: IntArray,
) -> float:
    """Row `r`'s slate over the drawn columns; the lowest value it took when every
    placement is full, else -1. `used` and `per_group` are all clear on the way in and out;
    `columns` is scratch space for the columns taken."""
    placed[r, :] = -1
    picked[r, :] = -1
    m = 0
    lowest = np.inf
    full = True
    for p in range(counts.shape[0]):
        first = m
        fb = fallbacks[p]
        taken = 0
        while taken < counts[p]:
            best = -1
            best_value = 0.0
            for j in drawn:
                v = values[j]
                a_j = actions[j]
                if not v > 0.0 or used[j] or not masks[p, a_j] or a_j == fb:  # NaN too
                    continue
                if max_per_group > 0 and per_group[groups[a_j]] >= max_per_group:
                    continue
                if best < 0 or v > best_value or (v == best_value and j < best):
                    best = j
                    best_value = v
            if best < 0:
                break
            used[best] = True
            per_group[groups[actions[best]]] += 1
            placed[r, m] = p
            picked[r, m] = actions[best]
            columns[m] = best
            m += 1
            taken += 1
            lowest = min(lowest, best_value)
        for q in range(first, first + taken):  # group limits are per placement
            per_group[groups[actions[columns[q]]]] = 0
        if taken < counts[p]:
            full = False
        if taken == 0 and fb >= 0 and fallback_alive[p]:
            free = True
            for q in range(m):
                if picked[r, q] == fb:
                    free = False
            if free:
                placed[r, m] = p
                picked[r, m] = fb
                columns[m] = fallback_column[p]
                m += 1
                if fallback_column[p] >= 0:
                    used[fallback_column[p]] = True
    for q in range(m):
        if columns[q] >= 0:
            used[columns[q]] = False
    return lowest if full else -1.0


@numba.njit(cache=True, nogil=True)
def _redraw(
    a: FloatArray,  # (n,) Beta parameters of the candidates
    b: FloatArray,
    scale: FloatArray,  # (n,) priority per unit of propensity
    hi: FloatArray,  # (n,) upper bound of each candidate's priority
    order: IntArray,  # (n,) the columns by bound, best first
    pre: FloatArray,  # (≤ rows, ≤ n) priorities of the first columns in `order`, drawn ahead
    actions: IntArray,  # (n,) action index of each column, ascending
    masks: BoolArray,  # (placements, actions) may the action go there
    counts: IntArray,  # (placements,) slots
    groups: IntArray,  # (actions,) group
    max_per_group: int,
    fallbacks: IntArray,  # (placements,) action index, or -1 for none
    fallback_alive: BoolArray,  # (placements,) may the fallback be taken
    fallback_column: IntArray,  # (placements,) its column, or -1
    rows: int,
    budget: int,  # draws after which no further row starts (MIN_ROWS rows are made)
    seed: int,
) -> tuple[IntArray, IntArray, int, int]:
    n = a.shape[0]
    np.random.seed(seed)
    slots = 0
    for p in range(counts.shape[0]):
        slots += counts[p]
    placed = np.full((rows, slots), -1, np.int64)
    picked = np.full((rows, slots), -1, np.int64)
    values = np.zeros(n)
    used = np.zeros(n, np.bool_)
    n_groups = 1
    for j in range(n):
        n_groups = max(n_groups, groups[actions[j]] + 1)
    per_group = np.zeros(n_groups, np.int64)
    columns = np.full(slots, -1, np.int64)
    spent = 0
    done = 0
    # a row's priority of the t-th candidate in bound order: drawn ahead (numpy draws a
    # Beta in half the time numba does), else now. Written out at both places it is
    # needed: as a function taking the arrays it cost more than all the rest of a row
    pre_rows, pre_cols = pre.shape
    beta = np.random.beta
    for r in range(rows):
        if r >= MIN_ROWS and spent >= budget:
            break
        t = 0
        check = min(n, slots)
        while True:  # until the slate is full (or everything that could matter is drawn)
            while t < check:
                j = order[t]
                values[j] = (
                    pre[r, t] if r < pre_rows and t < pre_cols else beta(a[j], b[j]) * scale[j]
                )
                t += 1
            lowest = _arbitrate(
                r, values, order[:t], actions, masks, counts, groups, max_per_group,
                fallbacks, fallback_alive, fallback_column, used, per_group, placed, picked,
                columns,
            )  # fmt: skip
            if lowest >= 0.0 or t >= n or hi[order[t]] <= 0.0:
                break
            check = min(n, 2 * check)
        # then only what could still beat (or, defined earlier, tie) the slate's lowest pick
        while t < n and hi[order[t]] > 0.0 and hi[order[t]] >= lowest:
            j = order[t]
            values[j] = pre[r, t] if r < pre_rows and t < pre_cols else beta(a[j], b[j]) * scale[j]
            t += 1
            if values[j] >= lowest:
                lowest = _arbitrate(
                    r, values, order[:t], actions, masks, counts, groups, max_per_group,
                    fallbacks, fallback_alive, fallback_column, used, per_group, placed,
                    picked, columns,
                )  # fmt: skip
        spent += t
        done += 1
    return placed[:done], picked[:done], done, spent


def redraw(
    a: FloatArray,
    b: FloatArray,
    scale: FloatArray,
    hi: FloatArray,
    idx: IntArray,
    in_placement: Sequence[BoolArray],
    counts: Sequence[int],
    groups: IntArray,
    max_per_group: int,
    fallbacks: Sequence[int | None],
    alive: BoolArray,
    *,
    rows: int,
    budget: int,
    rng: np.random.Generator,
    lowest: float | None = None,
    given: FloatArray | None = None,
) -> Redraws:
    """Up to `rows` Thompson redraws of the slate over the candidates `idx` (ascending):
    priorities Beta(a, b) × scale, or the rows of `given` instead of draws; `hi` bounds
    each candidate's priority from above. `lowest`, the lowest priority the decision's own
    slate took (None: it is not full), says about how many candidates a redraw will draw:
    those are drawn ahead for all rows at once.

    `in_placement` and `groups` are indexed by action, `fallbacks` are actions (or None),
    `alive` says which actions survived the pipeline's filters."""
    n = len(idx)
    order = np.argsort(-hi, kind="stable")  # equal bounds in column order
    if given is not None:
        pre = np.ascontiguousarray(np.asarray(given, dtype=np.float64)[:, order])
    else:
        ahead = n if lowest is None else min(n, int(np.count_nonzero(hi >= lowest) * AHEAD) + 1)
        head = order[: max(ahead, 1)]
        pre_rows = min(rows, max(MIN_ROWS, -(-budget // len(head))))
        pre = rng.beta(a[head], b[head], size=(pre_rows, len(head))) * scale[head]
    fb = np.array([-1 if f is None else f for f in fallbacks], dtype=np.int64)
    # a fallback's column among the candidates, -1 if it is none
    column = np.minimum(np.searchsorted(idx, fb), n - 1)
    placed, picked, done, spent = _redraw(
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(scale, dtype=np.float64),
        np.ascontiguousarray(hi, dtype=np.float64),
        order.astype(np.int64, copy=False),
        pre,
        np.ascontiguousarray(idx, dtype=np.int64),
        np.asarray(in_placement, dtype=np.bool_),
        np.asarray(counts, dtype=np.int64),
        np.asarray(groups, dtype=np.int64),
        max_per_group,
        fb,
        (fb >= 0) & alive[fb],
        np.where((fb >= 0) & (idx[column] == fb), column, -1),
        rows,
        budget,
        int(rng.bit_generator.random_raw()) >> 33,  # numba's seed is below 2**31
    )
    keep = picked >= 0
    return Redraws(placed[keep], picked[keep], int(done), int(spent))


def warm_up() -> None:
    """Compile (or load from numba's cache beside this file) the kernels now, so that the
    first decision does not wait for it: seconds the first time, ~0.5 s from the cache."""
    n = 2
    ones = np.ones(n)
    anywhere = [np.ones(n, dtype=bool)]
    redraw(ones, ones, ones, ones, np.arange(n), anywhere, [1], np.zeros(n, dtype=np.int64),
           0, [None], np.ones(n, dtype=bool), rows=1, budget=n,
           rng=np.random.default_rng(0))  # fmt: skip
