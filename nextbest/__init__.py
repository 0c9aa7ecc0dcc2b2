"""nextbest — a real-time next-best-action engine."""

import os

# The models' linear algebra is small (a reservoir of a few thousand rows); multi-threaded
# BLAS only contends for the cores that serve decisions, and on a 2-core machine made
# learning 3–4× slower. One thread unless the operator says otherwise — effective when
# nextbest is imported before numpy, as the CLI and server do.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
