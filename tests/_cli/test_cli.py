"""End-to-end tests of the ``fairif`` command line on bundled data."""

import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from sklearn_fairif._cli import main
from sklearn_fairif.datasets import load_compas

try:
    import matplotlib  # noqa: F401

    HAS_MATPLOTLIB = True
except ImportError:
    HAS_MATPLOTLIB = False

REPO = Path(__file__).resolve().parents[2]
CROSSFIT_COLUMNS = ["alpha", "heldout_gap", "heldout_gap_std",
                    "heldout_utility_change", "heldout_utility_change_std",
                    "weight_change", "admissible", "chosen"]
REFIT_COLUMNS = ["alpha", "val_accuracy", "val_gap", "val_within_tol", "chosen"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def compas_csv(tmp_path_factory):
    """COMPAS written as a user's CSV: string groups and string labels."""
    frame = load_compas().frame.copy()
    frame["race"] = frame["race"].map({0: "African-American", 1: "Caucasian"})
    frame["outcome"] = frame.pop("no_two_year_recid").map({0: "reoffended",
                                                           1: "no reoffence"})
    frame["person_id"] = [f"p{i:05d}" for i in range(len(frame))]
    path = tmp_path_factory.mktemp("data") / "compas.csv"
    frame.to_csv(path, index=False)
    return path


def run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def fit_args(csv, out, *extra):
    return ["fit", "--csv", csv, "--target", "outcome", "--sensitive", "race",
            "--positive-label", "no reoffence", "--out", out, *extra]


def test_demo_german_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--out", out], capsys)
    assert status == 0, err
    # The side-by-side table of the issue, and the plain-language reading.
    header = next(line for line in stdout.splitlines() if "AOD" in line)
    assert header.split() == ["Acc", "AD", "AOD", "EOD", "DP"]
    assert "ERM (unweighted)" in stdout and "FairIF (alpha=" in stdout
    assert "Who was reweighted" in stdout
    for name in ["report.md", "metrics.csv", "alpha_path.csv",
                 "weights_by_group.csv"]:
        assert (out / name).is_file(), name
    if HAS_MATPLOTLIB:  # the plots are optional (the report extra)
        for name in ["accuracy_vs_fairness.png", "alpha_path.png",
                     "weights_by_group.png"]:
            assert (out / name).read_bytes()[:8] == PNG_MAGIC

    metrics = pd.read_csv(out / "metrics.csv", index_col=0)
    assert list(metrics.columns) == ["Acc", "AD", "AOD", "EOD", "DP"]
    assert metrics.shape == (2, 5) and metrics.notna().all().all()

    # Mean weight per (sex, label) cell of the 600 training rows; FairIF's
    # weights have mean 1, so the cells' weight shares add up to 1.
    weights = pd.read_csv(out / "weights_by_group.csv")
    assert list(weights.columns[:3]) == ["sex", "label", "rows"]
    assert weights["rows"].sum() == 600 and len(weights) == 4
    assert np.isclose((weights["rows"] * weights["mean_weight"]).sum(), 600)
    assert np.isclose(weights["share_of_weight"].sum(), 1.0)

    # The default --alpha is auto: 16 cross-fitted candidates, one chosen.
    path = pd.read_csv(out / "alpha_path.csv")
    assert list(path.columns) == CROSSFIT_COLUMNS
    assert len(path) == 16 and path["chosen"].sum() == 1
    chosen = path.loc[path["chosen"], "alpha"].iloc[0]
    assert f"FairIF (alpha={chosen:.3g})" in stdout
    assert path.loc[path["chosen"], "admissible"].iloc[0]
    assert "by cross-fitting on the validation set" in stdout

    report = (out / "report.md").read_text()
    for text in ["## Result on the test set", "## Choosing alpha",
                 "## Who was reweighted", "| ERM (unweighted)  ",
                 "alpha: auto (cross-fitted over 16 candidates",
                 "by cross-fitting on the validation set",
                 "predicted held-out AOD", "predicted held-out accuracy change",
                 "The chosen alpha refitted, next to ERM"]:
        assert text in report, text
    # The candidate table: mean ± std over folds, one row per candidate.
    assert report.count(" ± ") >= 2 * int(path["heldout_gap"].notna().sum())
    # Tables by DataFrame.to_markdown (or a code block without tabulate).
    assert "|:---" in report or "```" in report
    if HAS_MATPLOTLIB:
        assert "](accuracy_vs_fairness.png)" in report
        assert "](alpha_path.png)" in report
        assert "](weights_by_group.png)" in report


def test_demo_alpha_auto_explicit(tmp_path, capsys):
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--alpha", "auto",
                               "--out", out], capsys)
    assert status == 0, err
    path = pd.read_csv(out / "alpha_path.csv")
    assert list(path.columns) == CROSSFIT_COLUMNS and len(path) == 16
    # The refitted validation numbers of the chosen alpha, next to ERM's.
    report = (out / "report.md").read_text()
    rows = [line for line in report.splitlines()
            if line.startswith(("| ERM (unweighted)", "| FairIF (alpha="))]
    assert len(rows) >= 4  # the test table's two rows, then the validation's
    chosen = path.loc[path["chosen"], "alpha"].iloc[0]
    text = " ".join(stdout.split())
    assert f"Refitted with alpha={chosen:.3g}, validation accuracy is" in text
    assert "(ERM: " in text


@pytest.mark.parametrize(
    "alpha, n_rows, rule",
    [("0.3", 1, None), ("0.1,1", 2, "was chosen from 2 values")],
)
def test_demo_alpha_values_are_refitted(alpha, n_rows, rule, tmp_path, capsys):
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--alpha", alpha,
                               "--out", out], capsys)
    assert status == 0, err
    path = pd.read_csv(out / "alpha_path.csv")
    assert list(path.columns) == REFIT_COLUMNS and len(path) == n_rows
    assert sorted(path["alpha"]) == sorted(float(a) for a in alpha.split(","))
    report = (out / "report.md").read_text()
    assert "cross-fitting" not in stdout and "held-out" not in report
    assert f"alpha tried: {alpha.replace(',', ', ')}" in report
    if rule is None:
        assert "was chosen from" not in stdout
    else:
        assert rule in stdout


def test_fit_on_a_csv_saves_a_usable_model(compas_csv, tmp_path, capsys):
    out = tmp_path / "report"
    status, stdout, err = run(fit_args(compas_csv, out, "--alpha", "0.01,0.1"),
                              capsys)
    assert status == 0, err
    assert "positive class: no reoffence" in stdout
    assert "column 'person_id' has a different value in every row" in stdout
    assert (out / "model.joblib").is_file() and (out / "report.md").is_file()
    model = joblib.load(out / "model.joblib")
    assert model.alpha_ in (0.01, 0.1)
    # The sensitive column and the target are not features.
    features = list(model.feature_names_in_)
    assert "race" not in features and "outcome" not in features
    assert "person_id" not in features  # an identifier, dropped
    frame = pd.read_csv(compas_csv)
    pred = model.predict(frame[features].head(200))
    # The CSV's own labels, not FairIF's internal 0/1.
    assert set(pred) <= {"no reoffence", "reoffended"} and len(set(pred)) == 2
    assert list(model.classes_) == ["reoffended", "no reoffence"]
    proba = model.predict_proba(frame[features].head(200))
    np.testing.assert_array_equal(pred, model.classes_[proba.argmax(axis=1)])
    report = (out / "report.md").read_text()
    assert "## Using the saved model" in report
    assert "Caucasian" in report and "no reoffence" in report


def test_fit_with_a_validation_file_and_no_test_set(compas_csv, tmp_path, capsys):
    frame = pd.read_csv(compas_csv)
    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    frame.iloc[:4000].to_csv(train, index=False)
    frame.iloc[4000:].drop(columns=["sex"]).to_csv(val, index=False)
    out = tmp_path / "report"
    status, stdout, err = run(
        fit_args(train, out, "--val-csv", val, "--test-fraction", "0",
                 "--drop", "sex", "--alpha", "0.1", "--model-out",
                 tmp_path / "m.joblib"), capsys)
    assert status == 0, err
    assert "1,278 validation rows" in stdout
    assert "Validation set (1,278 rows)" in stdout
    assert "sex" not in joblib.load(tmp_path / "m.joblib").feature_names_in_
    assert "optimistic" in (out / "report.md").read_text()


def _write(frame, tmp_path, name="bad.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


BAD_INPUTS = {
    "missing target": (
        lambda f: f, ["--target", "label"], "column 'label' not found in"),
    "missing sensitive": (
        lambda f: f, ["--sensitive", "ethnicity"],
        "column 'ethnicity' not found in"),
    "non-binary target": (
        lambda f: f.assign(outcome=f["priors_count"].clip(0, 2)), [],
        "target column 'outcome' has 3 distinct values (0, 1, 2)"),
    "one group": (
        lambda f: f.assign(race="Caucasian"), [],
        "sensitive column 'race' has a single value ('Caucasian')"),
    "too few validation rows": (
        lambda f: f.head(60), [], "too few validation rows per group of 'race'"),
    # Hundreds of one-row groups: five named, the rest counted, and the likely
    # cause said.
    "continuous sensitive column": (
        lambda f: f.assign(race=np.arange(len(f)) / 7.0), [],
        "; and 1"),
    "unknown positive label": (
        lambda f: f, ["--positive-label", "yes"],
        "--positive-label 'yes' is not a value of 'outcome'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_clear_line(case, compas_csv, tmp_path, capsys):
    edit, extra, message = BAD_INPUTS[case]
    csv = _write(edit(pd.read_csv(compas_csv)), tmp_path)
    argv = fit_args(csv, tmp_path / "report")
    for option, value in zip(extra[::2], extra[1::2], strict=True):
        argv[argv.index(option) + 1] = value
    status, stdout, err = run(argv, capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fairif: error: "), err
    assert message in lines[0]
    assert len(lines[0]) < 600, lines[0]
    assert not (tmp_path / "report").exists()


def test_bad_input_exit_status_from_the_shell(tmp_path):
    # The real process: exit status 2, one line on stderr, no traceback.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_fairif", "fit", "--csv", "missing.csv",
         "--target", "y", "--sensitive", "s"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == "fairif: error: --csv missing.csv: no such file"
    assert "Traceback" not in result.stderr


def test_quiet_prints_nothing(tmp_path, capsys):
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--alpha", "0.01",
                               "--out", out, "--quiet"], capsys)
    assert status == 0
    assert stdout == "" and err == ""
    assert (out / "report.md").is_file()


def test_report_without_matplotlib(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--alpha", "0.01",
                               "--out", out], capsys)
    assert status == 0, err
    assert "plots skipped" in stdout
    assert (out / "report.md").is_file() and (out / "weights_by_group.csv").is_file()
    assert not (out / "accuracy_vs_fairness.png").exists()
    assert not (out / "alpha_path.png").exists()
    assert "![" not in (out / "report.md").read_text()


def test_mlp_without_torch_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    status, stdout, err = run(["demo", "--dataset", "german", "--model", "mlp",
                               "--out", tmp_path], capsys)
    assert status == 2
    assert err.startswith("fairif: error: --model mlp needs torch and skorch")


def test_mlp_demo_alpha_auto_cross_fits(tmp_path, capsys):
    # The MLP has more than 1024 influence parameters: its influence is
    # solved by CG, and auto still cross-fits over every parameter.
    pytest.importorskip("skorch")
    out = tmp_path / "report"
    status, stdout, err = run(["demo", "--dataset", "german", "--model", "mlp",
                               "--epochs", "3", "--alpha", "auto", "--out", out],
                              capsys)
    assert status == 0, err
    path = pd.read_csv(out / "alpha_path.csv")
    assert list(path.columns) == CROSSFIT_COLUMNS and len(path) == 16
    chosen = path.loc[path["chosen"], "alpha"].iloc[0]
    assert f"FairIF (alpha={chosen:.3g})" in stdout
    assert "by cross-fitting on the validation set" in stdout
    assert "could not cross-fit" not in stdout
    report = (out / "report.md").read_text()
    assert "MLP" in report and "alpha: auto (cross-fitted over 16 candidates" in report
