"""The benchmark scripts: their shape (fast) and the ``--quick`` smoke run (slow)."""

import ast
import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
_RUN = _DIR / "run.py"
# Owned elsewhere (GPU and torch-influence checks, alpha selection): not
# dispatched by run.py.
_OTHERS = {"gpu_check.py", "bench_torch_influence.py", "colored_digits_cnn.py",
           "select_alpha.py"}


def _scripts():
    return ast.literal_eval(next(
        node.value for node in ast.parse(_RUN.read_text()).body
        if isinstance(node, ast.Assign) and node.targets[0].id == "SCRIPTS"))


@pytest.fixture
def benchmarks(monkeypatch):
    """Import benchmark modules as ``python benchmarks/x.py`` would."""
    monkeypatch.syspath_prepend(str(_DIR))
    return importlib.import_module


def test_every_script_is_dispatched():
    scripts = {p.stem for p in _DIR.glob("*.py")
               if not p.name.startswith("_") and p.name not in _OTHERS}
    assert scripts - {"run", "baselines"} == set(_scripts())


@pytest.mark.parametrize("name", _scripts())
def test_script_has_frozen_quick_and_full_presets(benchmarks, name):
    module = benchmarks(name)
    assert set(module.PRESETS) == {"quick", "full"}
    quick, full = module.PRESETS["quick"], module.PRESETS["full"]
    assert type(quick) is type(full)
    field = dataclasses.fields(quick)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(quick, field, None)
    assert quick != full
    assert callable(module.run)


@pytest.mark.parametrize("path", sorted(_DIR.glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_only_public_names(path):
    if path.name in _OTHERS:
        pytest.skip("owned elsewhere")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            assert not (parts[0] == "sklearn_fairif"
                        and any(p.startswith("_") for p in parts[1:])), module


@pytest.mark.parametrize("name", ["run", *_scripts()])
def test_entry_points_pin_blas_before_numpy(name):
    body = ast.parse((_DIR / f"{name}.py").read_text()).body
    statements = [n for n in body if not (isinstance(n, ast.Expr)
                                          and isinstance(n.value, ast.Constant))]
    first, second = statements[:2]
    assert isinstance(first, ast.Import) and first.names[0].name == "os"
    call = ast.unparse(second)
    assert call.startswith("os.environ.update(")
    for var in ("OPENBLAS_NUM_THREADS='1'", "OMP_NUM_THREADS='1'"):
        assert var in call


def test_mean_se_and_median_time(benchmarks):
    common = benchmarks("_common")
    assert common.mean_se([1.0, 2.0, 3.0], digits=3) == "2.000 ± 0.577"
    assert common.mean_se([0.5]) == "0.5000 ± —"
    calls = []
    t, value = common.median_time(lambda: calls.append(1) or len(calls), repeat=3)
    assert calls == [1, 1, 1] and value == 3 and t >= 0
    text = common.table([{"a": "x", "b": "1.50"}, {"a": "y", "b": "2"}])
    assert text.splitlines()[0].replace(" ", "") == "|a|b|"
    assert "1.50" in text  # kept as written, not re-parsed as a number


def test_round_robin_interleaves_and_compares_within_rounds(benchmarks):
    common = benchmarks("_common")
    calls = []
    times, values = common.round_robin(
        {"a": lambda: calls.append("a") or len(calls),
         "b": lambda: calls.append("b") or -len(calls)}, rounds=3)
    assert calls == ["a", "b"] * 3  # in turn, not each method's repeats in a row
    assert values == {"a": 5, "b": -6} and len(times["a"]) == len(times["b"]) == 3
    # Ratios within a round: a slow round (the second) cancels out.
    times = {"m": [2.0, 20.0, 3.0], "ERM": [1.0, 10.0, 1.0]}
    assert common.round_ratio(times, "m", "ERM") == 2.0


@pytest.mark.slow
def test_run_quick_writes_every_result(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(_RUN), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("comparison_tabular", "comparison_fidelity", "comparison_scale",
                 "comparison_valsize", "comparison_synthetic", "comparison_cnn",
                 "frontier", "fairif_linear", "weight_solver", "fairif_rounds",
                 "iffair"):
        text = (tmp_path / f"{name}.md").read_text()
        assert "- command: `python benchmarks/run.py --quick" in text
        assert "| method" in text or "| model" in text or "| n " in text or (
            "| data " in text)
    for png in ("tradeoff_adult", "tradeoff_compas", "tradeoff_german",
                "fidelity", "scaling", "frontier_adult", "frontier_compas"):
        assert (tmp_path / f"{png}.png").stat().st_size > 10_000
    tabular = (tmp_path / "comparison_tabular.md").read_text()
    assert "target (FairIF at its validation-chosen alpha" in tabular
    assert "fit time / ERM" in tabular
    frontier = (tmp_path / "frontier.md").read_text()
    for method, reads in [("FairIF over alpha", "validation"),
                          ("penalty on train gaps", "training"),
                          ("penalty on test gaps", "test")]:
        assert any(line.startswith(f"| {method}") and f"| {reads} " in line
                   for line in frontier.splitlines()), method
