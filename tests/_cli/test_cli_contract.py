"""The command line's input contract (issue 13).

Every bad input ends with exit status 2 and ONE ``fairif: error: ...`` line on
stderr, before anything is fitted, and no file the run did not create is
touched; ``--overwrite`` replaces earlier outputs but never an input.
"""

import ast
import logging
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

import sklearn_fairif
from sklearn_fairif._cli import main
from sklearn_fairif._cli._progress import _progress
from sklearn_fairif.datasets import make_biased_classification

CLI_DIR = Path(sklearn_fairif.__file__).parent / "_cli"


@pytest.fixture
def csv(tmp_path):
    """A small user CSV: string labels and groups, an integer code column."""
    X, y, s = make_biased_classification(600, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(4)])
    frame["code"] = np.random.RandomState(0).randint(1, 6, size=600)
    frame["sex"] = np.where(s == 1, "M", "F")
    frame["label"] = np.where(y == 1, "yes", "no")
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def no_fit(monkeypatch):
    """Fail the test if the command line gets as far as fitting."""
    def fit(self, *args, **kwargs):
        raise AssertionError("FairIFClassifier.fit was called")

    monkeypatch.setattr(sklearn_fairif.FairIFClassifier, "fit", fit)


def run(argv, capsys):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def fit_args(csv, out, *extra):
    return ["fit", "--csv", csv, "--target", "label", "--sensitive", "sex",
            "--alpha", "0.1", "--out", out, *extra]


def assert_one_error_line(status, err, *fragments):
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("fairif: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def snapshot(*paths):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths}


# ------------------------------------------------------------ output files


def test_model_out_over_the_input_csv(csv, tmp_path, capsys, no_fit):
    before = snapshot(csv)
    for extra in ([], ["--overwrite"]):
        status, _, err = run(fit_args(csv, tmp_path / "r", "--model-out", csv,
                                      *extra), capsys)
        assert_one_error_line(status, err, "over its input --csv", "data.csv")
    assert snapshot(csv) == before
    assert not (tmp_path / "r").exists()


def test_out_folder_whose_metrics_csv_is_the_input(tmp_path, csv, capsys, no_fit):
    folder = tmp_path / "work"
    folder.mkdir()
    data = folder / "metrics.csv"
    data.write_bytes(csv.read_bytes())
    before = snapshot(data)
    for extra in ([], ["--overwrite"]):
        status, _, err = run(fit_args(data, folder, *extra), capsys)
        assert_one_error_line(status, err, "over its input --csv")
    assert snapshot(data) == before


def test_report_file_linked_to_the_input(tmp_path, csv, capsys, no_fit):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").symlink_to(csv)
    before = snapshot(csv)
    status, _, err = run(fit_args(csv, out, "--overwrite"), capsys)
    assert_one_error_line(status, err, "over its input --csv")
    assert snapshot(csv) == before


@pytest.mark.parametrize("name", ["report.md", "metrics.csv", "model.joblib",
                                  "alpha_path.csv"])
def test_existing_output_needs_overwrite(tmp_path, csv, capsys, no_fit, name):
    out = tmp_path / "r"
    out.mkdir()
    old = out / name
    old.write_text("from an earlier run")
    before = snapshot(old)
    status, _, err = run(fit_args(csv, out), capsys)
    assert_one_error_line(status, err, name, "already exist", "--overwrite")
    assert snapshot(old) == before


def test_alpha_path_png_is_written_and_never_replaced_without_overwrite(
        tmp_path, csv, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "r"
    status, _, err = run(fit_args(csv, out, "--quiet", "--alpha", "0.01,0.1,1"),
                         capsys)
    assert status == 0, err
    png = out / "alpha_path.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](alpha_path.png)" in (out / "report.md").read_text()

    # Another run's, or the user's, alpha_path.png alone blocks a run.
    for name in [p.name for p in out.iterdir() if p != png]:
        (out / name).unlink()
    png.write_text("mine")
    before = snapshot(png)
    status, _, err = run(fit_args(csv, out, "--quiet"), capsys)
    assert_one_error_line(status, err, "alpha_path.png", "already exist",
                          "--overwrite")
    assert snapshot(png) == before
    assert not (out / "report.md").exists()  # refused before writing anything

    status, _, err = run(fit_args(csv, out, "--quiet", "--overwrite"), capsys)
    assert status == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_existing_model_out_needs_overwrite(tmp_path, csv, capsys, no_fit):
    model = tmp_path / "mine.joblib"
    model.write_text("precious")
    status, _, err = run(fit_args(csv, tmp_path / "r", "--model-out", model),
                         capsys)
    assert_one_error_line(status, err, "mine.joblib", "already exist")
    assert model.read_text() == "precious"


def test_demo_refuses_to_replace_a_report(tmp_path, capsys, no_fit):
    out = tmp_path / "r"
    out.mkdir()
    (out / "report.md").write_text("mine")
    status, _, err = run(["demo", "--dataset", "german", "--out", out], capsys)
    assert_one_error_line(status, err, "report.md", "--overwrite")
    assert (out / "report.md").read_text() == "mine"


@pytest.mark.parametrize(
    "make_out, fragments",
    [
        (lambda d: d / "data.csv", ["is an existing file, not a folder"]),
        (lambda d: d / "data.csv" / "sub", ["is a file, not a folder"]),
    ],
    ids=["out-is-a-file", "out-under-a-file"],
)
def test_out_not_a_folder(tmp_path, csv, capsys, no_fit, make_out, fragments):
    before = snapshot(csv)
    status, _, err = run(fit_args(csv, make_out(tmp_path)), capsys)
    assert_one_error_line(status, err, *fragments)
    assert snapshot(csv) == before


def test_unwritable_out(tmp_path, csv, capsys, no_fit, monkeypatch):
    import os

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    status, _, err = run(fit_args(csv, tmp_path / "new" / "r"), capsys)
    assert_one_error_line(status, err, "--out", "is not writable")


@pytest.mark.parametrize(
    "make_model_out, fragment",
    [(lambda d: d, "is a folder"),
     (lambda d: d / "data.csv" / "m.joblib", "is a file, not a folder"),
     (lambda d: d / "r" / "report.md", "is also the report's report.md")],
    ids=["folder", "under-a-file", "a-report-file"],
)
def test_bad_model_out(tmp_path, csv, capsys, no_fit, make_model_out, fragment):
    status, _, err = run(fit_args(csv, tmp_path / "r", "--model-out",
                                  make_model_out(tmp_path)), capsys)
    assert_one_error_line(status, err, "--model-out", fragment)


def test_overwrite_replaces_an_earlier_run(tmp_path, csv, capsys):
    out = tmp_path / "r"
    status, _, err = run(fit_args(csv, out, "--quiet"), capsys)
    assert status == 0, err
    status, _, err = run(fit_args(csv, out, "--quiet"), capsys)
    assert_one_error_line(status, err, "already exist")
    (out / "report.md").write_text("stale")
    status, _, err = run(fit_args(csv, out, "--quiet", "--overwrite"), capsys)
    assert status == 0, err
    assert (out / "report.md").read_text().startswith("# FairIF report")


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--seed", "-1"], ["argument --seed", "-1"]),
        (["--seed", "4294967296"], ["argument --seed"]),
        (["--seed", "abc"], ["argument --seed", "'abc'"]),
        (["--alpha", "-1"], ["argument --alpha", "> 0", "'-1'"]),
        (["--alpha", "0"], ["argument --alpha", "> 0"]),
        (["--alpha", "nan"], ["argument --alpha", "finite"]),
        (["--alpha", "inf"], ["argument --alpha", "finite"]),
        (["--alpha", ","], ["argument --alpha", "expected 'auto', a number"]),
        (["--alpha", ""], ["argument --alpha", "expected 'auto', a number"]),
        (["--alpha", "abc"], ["argument --alpha", "'abc'"]),
        (["--alpha", "auto,0.1"], ["argument --alpha", "cannot be combined"]),
        (["--alpha", "0.1, auto"], ["argument --alpha", "cannot be combined"]),
        # The library's spelling: "auto", case-sensitive.
        (["--alpha", "Auto"], ["argument --alpha", "'Auto'", "lower case"]),
        (["--alpha", "AUTO"], ["argument --alpha", "lower case"]),
        (["--tol", "-0.1"], ["argument --tol"]),
        (["--epochs", "0"], ["argument --epochs"]),
        (["--val-fraction", "1.5"], ["argument --val-fraction"]),
        (["--val-fraction", "0"], ["argument --val-fraction", "(0, 1)"]),
        (["--test-fraction", "nan"], ["argument --test-fraction"]),
        (["--damping", "inf"], ["argument --damping", "finite"]),
        (["--tol", "nan"], ["argument --tol"]),
        # Checked before the data is read, like the estimator's own bound.
        (["--tol", "2"], ["argument --tol", "[0, 1]"]),
        (["--objective", "fairness"], ["argument --objective"]),
        (["--model", "svm"], ["argument --model"]),
        (["--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_argument_is_one_line(csv, tmp_path, capsys, no_fit, extra, fragments):
    status, _, err = run(fit_args(csv, tmp_path / "r", *extra), capsys)
    assert_one_error_line(status, err, *fragments)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "text, expected",
    [("auto", "auto"), ("0.3", (0.3,)), ("0.1,1", (0.1, 1.0)),
     (" 0.1 , 1 ,", (0.1, 1.0)), ("1e-3", (0.001,))],
)
def test_alpha_values(text, expected):
    from sklearn_fairif._cli._main import _parser

    args = _parser().parse_args(["demo", "--alpha", text])
    assert args.alpha == expected


@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_default_alpha_per_model(model, csv, tmp_path, capsys, monkeypatch):
    # The library's default for both: the MLP cross-fits by CG.
    if model == "mlp":
        pytest.importorskip("skorch")
    seen = []

    def fit(self, *args, **kwargs):
        seen.append(self.alpha)
        raise ValueError("stopped by the test")  # no need to fit

    monkeypatch.setattr(sklearn_fairif.FairIFClassifier, "fit", fit)
    argv = fit_args(csv, tmp_path / "r", "--model", model)
    del argv[argv.index("--alpha"):argv.index("--alpha") + 2]
    status, _, err = run(argv, capsys)
    assert_one_error_line(status, err, "stopped by the test")
    assert seen == ["auto"]


def test_help_states_the_alpha_default(capsys):
    status, out, _ = run(["demo", "--help"], capsys)
    assert status == 0
    text = " ".join(out.split())
    assert "within --tol kept (default: auto)" in text


def test_missing_required_argument_is_one_line(capsys):
    status, _, err = run(["fit", "--csv", "x.csv"], capsys)
    assert_one_error_line(status, err, "required", "--target")


def test_no_command_is_one_line(capsys):
    status, _, err = run([], capsys)
    assert_one_error_line(status, err, "required")


# --------------------------------------------------------------------- data


def _edit(csv, tmp_path, edit, name="edited.csv"):
    frame = edit(pd.read_csv(csv))
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda f: f.assign(x1=f["x1"].where(f.index != 7, np.inf)),
         ["column 'x1'", "infinite", "data row 8"]),
        (lambda f: f.assign(x0=f["x0"].where(f.index != 0, -np.inf)),
         ["column 'x0'", "infinite"]),
        (lambda f: f.assign(x2=f["x2"].where(f.index != 1, 1e308)),
         ["column 'x2'", "too large to standardise"]),
        (lambda f: f.assign(label="yes"), ["target column 'label' has 1 distinct"]),
        (lambda f: f.assign(sex="F"), ["sensitive column 'sex' has a single value"]),
        (lambda f: f.assign(label=f["label"].where(f.index != 3)),
         ["target column 'label' has 1 missing"]),
        (lambda f: f.assign(sex=f["sex"].where(f.index != 3)),
         ["sensitive column 'sex' has 1 missing"]),
        (lambda f: f.head(0), ["no data rows"]),
    ],
    ids=["inf", "-inf", "huge", "one-class", "one-group", "missing-label",
         "missing-group", "empty"],
)
def test_bad_csv(csv, tmp_path, capsys, no_fit, edit, fragments):
    path = _edit(csv, tmp_path, edit)
    status, _, err = run(fit_args(path, tmp_path / "r"), capsys)
    assert_one_error_line(status, err, *fragments)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--categorical", "nope"], ["column 'nope' not found"]),
        (["--categorical", "label"], ["--categorical names label"]),
        (["--target", "sex"], ["--target and --sensitive name the same column"]),
        (["--positive-label", "maybe"], ["--positive-label 'maybe'"]),
        (["--drop", "x0,x1,x2,x3,code"], ["no feature columns left"]),
    ],
)
def test_bad_column_options(csv, tmp_path, capsys, no_fit, extra, fragments):
    argv = fit_args(csv, tmp_path / "r")
    if extra[0] in argv:
        argv[argv.index(extra[0]) + 1] = extra[1]
    else:
        argv += extra
    status, _, err = run(argv, capsys)
    assert_one_error_line(status, err, *fragments)


def test_csv_is_a_folder(tmp_path, capsys, no_fit):
    status, _, err = run(fit_args(tmp_path, tmp_path / "r"), capsys)
    assert_one_error_line(status, err, "cannot read it as CSV")


# -------------------------------------------------------------- --val-csv


def _val_args(csv, val, tmp_path):
    return fit_args(csv, tmp_path / "r", "--val-csv", val)


@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda f: f.assign(sex=f["sex"].map({"F": "F", "M": "X"})),
         ["different groups", "only in", "X", "M"]),
        (lambda f: f.assign(sex="F").iloc[:100].assign(
            sex=lambda g: np.where(g.index % 2, "F", "Z")),
         ["different groups", "Z"]),
        (lambda f: f.assign(extra=1), ["has column(s) that", "extra"]),
        (lambda f: f.drop(columns=["x2"]), ["column 'x2' not found"]),
        (lambda f: f.assign(x3=f["x3"].where(f.index != 5, np.inf)),
         ["column 'x3'", "infinite"]),
        (lambda f: f.assign(x3="high"), ["column 'x3' is numeric"]),
        (lambda f: f.assign(label="maybe"), ["values not in"]),
    ],
    ids=["group-renamed", "new-group", "extra-column", "missing-column", "inf",
         "type-changed", "new-label"],
)
def test_bad_val_csv(csv, tmp_path, capsys, no_fit, edit, fragments):
    val = _edit(csv, tmp_path, edit, "val.csv")
    status, _, err = run(_val_args(csv, val, tmp_path), capsys)
    assert_one_error_line(status, err, *fragments)


def test_val_csv_is_the_csv(csv, tmp_path, capsys, no_fit):
    for val in (csv, csv.parent / "." / csv.name):
        status, _, err = run(_val_args(csv, val, tmp_path), capsys)
        assert_one_error_line(status, err, "--val-csv", "is the --csv file itself")


# --------------------------------------------------------------- no traceback


def test_unexpected_failure_is_one_line(csv, tmp_path, capsys, monkeypatch):
    def boom(self, *args, **kwargs):
        raise RuntimeError("something\nbroke\n  deep inside")

    monkeypatch.setattr(sklearn_fairif.FairIFClassifier, "fit", boom)
    status, _, err = run(fit_args(csv, tmp_path / "r"), capsys)
    assert_one_error_line(status, err, "RuntimeError: something broke deep inside")


def test_fit_value_error_is_one_line(csv, tmp_path, capsys, monkeypatch):
    def bad(self, *args, **kwargs):
        raise ValueError("X_val has\n3 columns")

    monkeypatch.setattr(sklearn_fairif.FairIFClassifier, "fit", bad)
    status, _, err = run(fit_args(csv, tmp_path / "r"), capsys)
    assert_one_error_line(status, err, "fitting failed: X_val has 3 columns")


# ------------------------------------------------------- what a run reports


def test_saved_model_predicts_the_csv_labels(csv, tmp_path, capsys):
    out = tmp_path / "r"
    status, stdout, err = run(fit_args(csv, out, "--positive-label", "no"), capsys)
    assert status == 0, err
    model = joblib.load(out / "model.joblib")
    frame = pd.read_csv(csv)
    pred = model.predict(frame[list(model.feature_names_in_)])
    assert set(pred) == {"yes", "no"}
    assert list(model.classes_) == ["yes", "no"]  # (negative, positive)
    # "no" is FairIF's positive class although it sorts first.
    assert "positive class: no" in stdout
    assert 0 < model.alpha_ and model.sample_weight_.mean() == pytest.approx(1)
    # No command-line object inside the saved model.
    assert b"_progress" not in pickle.dumps(model)


def test_integer_labels_stay_integers(csv, tmp_path, capsys):
    path = _edit(csv, tmp_path, lambda f: f.assign(
        label=f["label"].map({"no": 1, "yes": 2})))
    out = tmp_path / "r"
    status, _, err = run(fit_args(path, out, "--quiet"), capsys)
    assert status == 0, err
    model = joblib.load(out / "model.joblib")
    pred = model.predict(pd.read_csv(path)[list(model.feature_names_in_)])
    assert set(pred.tolist()) == {1, 2}


def test_column_types_are_reported(csv, tmp_path, capsys):
    status, stdout, err = run(fit_args(csv, tmp_path / "r"), capsys)
    assert status == 0, err
    text = " ".join(stdout.split())
    assert "numeric columns (5): x0, x1, x2, x3, code" in text
    assert "categorical columns (0): none" in text
    assert "pass --categorical code" in text
    report = (tmp_path / "r" / "report.md").read_text()
    assert "numeric columns (5)" in report


def test_categorical_option(csv, tmp_path, capsys):
    out = tmp_path / "r"
    status, stdout, err = run(fit_args(csv, out, "--categorical", "code"), capsys)
    assert status == 0, err
    text = " ".join(stdout.split())
    assert "categorical columns (1): code" in text
    assert "pass --categorical" not in text
    model = joblib.load(out / "model.joblib")
    pre = model.initial_estimator_[0]
    assert "code" in pre.transformers_[0][2]  # the one-hot branch


def test_alpha_auto_fallback_on_a_tiny_validation_cell(csv, tmp_path, capsys):
    # One positive row of group F in the validation file: no two folds can
    # both hold one, so auto warns and refits its fallback alpha.
    frame = pd.read_csv(csv)
    train, val = frame.iloc[:400], frame.iloc[400:]
    f_yes = val.index[(val["sex"] == "F") & (val["label"] == "yes")]
    val = val.drop(f_yes[1:])
    assert (val["sex"] == "F").sum() >= 10  # still passes the CLI's own check
    train_csv, val_csv = tmp_path / "train.csv", tmp_path / "val.csv"
    train.to_csv(train_csv, index=False)
    val.to_csv(val_csv, index=False)
    out = tmp_path / "r"
    argv = fit_args(train_csv, out, "--val-csv", val_csv)
    argv[argv.index("--alpha") + 1] = "auto"
    status, stdout, err = run(argv, capsys)
    assert status == 0, err
    assert "falling back to the default alpha" in err
    for line in err.strip().splitlines():
        assert line.startswith("fairif: warning: "), line
    text = " ".join(stdout.split())
    assert ("--alpha auto could not cross-fit: a group x label cell of the "
            "validation set has too few rows") in text
    model = joblib.load(out / "model.joblib")
    path = pd.read_csv(out / "alpha_path.csv")
    assert list(path.columns) == ["alpha", "val_accuracy", "val_gap", "val_within_tol",
                                  "chosen"]
    assert path["alpha"].tolist() == [model.alpha_]
    report = (out / "report.md").read_text()
    assert f"alpha: auto (could not cross-fit: alpha={model.alpha_:g})" in report
    assert "held-out" not in report


def test_no_carriage_returns_when_stderr_is_not_a_terminal(csv, tmp_path, capsys):
    status, _, err = run(fit_args(csv, tmp_path / "r"), capsys)
    assert status == 0
    assert "\r" not in err


def test_small_validation_cells_are_warned_in_one_line(csv, tmp_path, capsys):
    # Few positives in group F of the validation rows: whatever the estimator
    # warns comes out as single "fairif: warning:" lines.
    status, _, err = run(fit_args(csv, tmp_path / "r"), capsys)
    assert status == 0, err
    for line in err.strip().splitlines():
        assert line.startswith("fairif: warning: "), line


# ---------------------------------------------------------- progress handler


def test_progress_handler_reads_record_fields(capsys):
    from sklearn.linear_model import LogisticRegression

    from sklearn_fairif import FairIFClassifier

    X, y, s = make_biased_classification(300, random_state=0)
    alphas = [0.1, 1.0]
    with _progress(alphas, quiet=False, enabled=True) as handler:
        FairIFClassifier(LogisticRegression(), alpha=alphas).fit(
            X[:200], y[:200], X_val=X[200:], y_val=y[200:], s_val=s[200:])
        # A network's training, as the torch helper's events report it.
        logger = logging.getLogger("sklearn_fairif")
        logger.debug("x", extra={"fairif": {"event": "train_begin",
                                            "estimator": "FairIF",
                                            "max_epochs": 3}})
        for epoch in range(3):
            logger.debug("x", extra={"fairif": {"event": "epoch_end",
                                                "estimator": "FairIF",
                                                "epoch": epoch + 1}})
        # Records without fields (or other events) are ignored.
        logger.info("a message that looks like '[FairIF] stage 1: 1s'")
        assert handler.bar.n == 2 + len(alphas)
        assert handler.epochs.n == 3 and handler.epochs.total == 3
    assert handler not in logger.handlers
    capsys.readouterr()


def test_progress_handler_alpha_auto(capsys):
    # Stage 1, influence, the chosen alpha's refit; the cross-fitting step
    # only changes the description.
    from sklearn.linear_model import LogisticRegression

    from sklearn_fairif import FairIFClassifier

    X, y, s = make_biased_classification(300, random_state=0)
    with _progress("auto", quiet=False, enabled=True) as handler:
        clf = FairIFClassifier(LogisticRegression(), random_state=0).fit(
            X[:200], y[:200], X_val=X[200:], y_val=y[200:], s_val=s[200:])
        assert "heldout_gap" in clf.cv_results_  # it did cross-fit
        assert handler.bar.n == handler.bar.total == 3
        assert handler.refits == 1
    capsys.readouterr()


def test_progress_quiet_attaches_nothing():
    logger = logging.getLogger("sklearn_fairif")
    before = list(logger.handlers)
    with _progress([0.1], quiet=True) as handler:
        assert handler is None and logger.handlers == before


def test_progress_disabled_bar_writes_nothing(capsys):
    with _progress([0.1], quiet=False, enabled=False) as handler:
        logging.getLogger("sklearn_fairif").info(
            "x", extra={"fairif": {"event": "stage_end", "estimator": "FairIF",
                                   "stage": "influence", "elapsed": 0.1}})
    assert handler.bar.disable
    assert capsys.readouterr().err == ""


def test_stage_names_match_the_package():
    from sklearn_fairif._cli import _progress as progress
    from sklearn_fairif.utils import _logging

    assert progress.STAGE_INITIAL == _logging.STAGE_INITIAL
    assert progress.STAGE_INFLUENCE == _logging.STAGE_INFLUENCE
    assert progress.STAGE_SELECTION == _logging.STAGE_SELECTION
    assert progress.STAGE_REFIT == _logging.STAGE_REFIT


def test_objectives_match_the_estimator():
    from sklearn_fairif._cli._common import NEEDS_LABELS, OBJECTIVES
    from sklearn_fairif._objectives import NEEDS_LABELS as PACKAGE_NEEDS_LABELS
    from sklearn_fairif._objectives import OBJECTIVES as PACKAGE_OBJECTIVES

    assert set(OBJECTIVES) == set(PACKAGE_OBJECTIVES)
    assert NEEDS_LABELS == PACKAGE_NEEDS_LABELS


def test_many_groups_matches_the_librarys_check():
    # The command line's "continuous column?" hint and check_groups's warning
    # start at the same group count.
    from sklearn_fairif._cli._common import MANY_GROUPS
    from sklearn_fairif.utils._validation import MAX_GROUPS

    assert MANY_GROUPS == MAX_GROUPS


def test_cli_imports_only_public_names():
    private = []
    for path in sorted(CLI_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 2:
                module = (node.module or "").split(".")
                names = [a.name for a in node.names]
                parts = module + ([] if node.module else names)
                if any(p.startswith("_") and p != "__version__" for p in parts):
                    private.append(f"{path.name}: from {'.' * node.level}"
                                   f"{node.module or ''} import {', '.join(names)}")
            elif isinstance(node, ast.ImportFrom | ast.Import):
                module = getattr(node, "module", None) or ""
                full = [module] + [a.name for a in node.names]
                if any(m.startswith("sklearn_fairif.")
                       and any(p.startswith("_") for p in m.split(".")[1:])
                       for m in full):
                    private.append(f"{path.name}: {ast.unparse(node)}")
    assert private == []


def test_validation_file_with_float_codes_matches_integer_ones(tmp_path, capsys):
    # pandas reads 0/1 and group codes 3/7 as 0.0/1.0 and 3.0/7.0 in a file that
    # writes them so: the same classes and groups as the training file's.
    X, y, s = make_biased_classification(900, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(4)])
    frame["sex"], frame["label"] = np.where(s == 1, 7, 3), y
    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    frame.iloc[:600].to_csv(train, index=False)
    frame.iloc[600:].astype({"sex": float, "label": float}).to_csv(val, index=False)
    assert "7.0" in val.read_text()
    status, out, err = run(fit_args(train, tmp_path / "r", "--val-csv", val,
                                    "--test-fraction", "0"), capsys)
    assert status == 0, err
    assert "300 validation rows" in out
