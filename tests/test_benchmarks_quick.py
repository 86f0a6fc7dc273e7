"""Smoke run of the comparison benchmarks: ``benchmarks/run.py --quick``."""

import subprocess
import sys
from pathlib import Path

import pytest

_RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


@pytest.mark.slow
def test_run_quick_writes_every_result(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(_RUN), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("comparison_tabular", "comparison_fidelity", "comparison_scale",
                 "comparison_valsize", "comparison_synthetic", "frontier"):
        text = (tmp_path / f"{name}.md").read_text()
        assert "- command: `python benchmarks/run.py --quick" in text
        assert "| method" in text or "| model" in text or "| n |" in text
    for png in ("tradeoff_adult", "tradeoff_compas", "tradeoff_german",
                "fidelity", "scaling", "frontier_adult", "frontier_compas"):
        assert (tmp_path / f"{png}.png").stat().st_size > 10_000
    assert "target (FairIF at its validation-chosen alpha" in (
        tmp_path / "comparison_tabular.md").read_text()
    frontier = (tmp_path / "frontier.md").read_text()
    for method, reads in [("FairIF over alpha", "validation"),
                          ("penalty on train gaps", "training"),
                          ("penalty on test gaps", "test")]:
        assert f"| {method} | {reads} |" in frontier
