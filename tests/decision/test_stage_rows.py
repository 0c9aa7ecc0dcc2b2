"""The engagement stages' failures: the compiled walk over the live actions gives what the
product with the whole stage matrix gives wherever the pipeline looks."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from nextbest.decision.pipeline import _stage_failures


@st.composite
def stage_cases(draw: st.DrawFn) -> tuple[Any, ...]:
    stages, n, rules = draw(st.integers(1, 3)), draw(st.integers(1, 25)), draw(st.integers(1, 20))
    cells = draw(st.sets(st.tuples(st.integers(0, stages * n - 1), st.integers(0, rules - 1))))
    r = np.array([c[0] for c in cells], dtype=np.int64)
    c = np.array([c[1] for c in cells], dtype=np.int64)
    matrix = sparse.csr_matrix(
        (np.ones(len(cells), dtype=np.int32), (r, c)), shape=(stages * n, rules)
    )
    failed = np.array(draw(st.lists(st.integers(0, 1), min_size=rules, max_size=rules)), np.int32)
    alive = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return matrix, failed, alive, stages


@given(stage_cases())
@settings(max_examples=400, deadline=None)
def test_each_stage_fails_the_live_actions_the_product_fails(case: tuple[Any, ...]) -> None:
    matrix, failed, alive, stages = case
    n = len(alive)
    product = ((matrix @ failed) > 0).reshape(stages, n)
    walked = _stage_failures(matrix.indptr, matrix.indices, failed, alive, stages)
    live = alive.copy()
    for stage in range(stages):
        # where the pipeline looks (`alive & fail`), the same; elsewhere nothing
        assert (walked[stage] == (product[stage] & live)).all()
        live &= ~product[stage]
