"""The benchmarks' generated configurations still compile against the demo bank they
start from (a benchmark is not run in the suite, so this is what notices when the demo
bank moves on)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from nextbest.config.loader import load_config

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_the_decision_benchmark_library_compiles(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("decide_benchmark", BENCHMARKS / "decide.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.build_config(tmp_path, 100, 0)
    config = load_config(tmp_path)
    assert config.n_actions == 100
