"""Fitting ERM and FairIF on a problem and collecting what the report shows."""

import textwrap
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import _METRIC_COLUMNS, AUTO, SHOWN_GROUPS, CLIError
from ._data import _check_validation_groups, _Problem
from ._models import _make_estimator
from ._progress import _progress


def _fit(problem, args):
    from .. import FairIFClassifier

    if args.command == "demo":
        where = "try another --seed"
    elif args.val_csv is None:
        where = "use a larger --val-fraction"
    else:
        where = f"{args.val_csv} needs more rows of each group"
    _check_validation_groups(problem, args.objective, where)
    estimator = _make_estimator(problem, args)
    # By default FairIFClassifier adapts the damping to the model ("auto").
    params = {} if args.damping is None else {"damping": args.damping}
    y_train, y_val = problem.y_train, problem.y_val
    if args.model == "mlp":  # BCEWithLogitsLoss wants float targets
        y_train, y_val = y_train.astype(np.float32), y_val.astype(np.float32)
    alpha = args.alpha if args.alpha == AUTO else list(args.alpha)
    clf = FairIFClassifier(
        estimator, objective=args.objective, alpha=alpha, tol=args.tol,
        random_state=args.seed, **params,
    )
    start = time.perf_counter()
    try:
        with _progress(alpha, args.quiet):
            clf.fit(problem.X_train, y_train, X_val=problem.X_val, y_val=y_val,
                    s_val=problem.s_val.to_numpy())
    except ValueError as exc:
        hint = " (--damping)" if "damping" in str(exc) else ""
        raise CLIError(f"fitting failed: {exc}{hint}") from None
    return clf, time.perf_counter() - start


def _predict01(model, X):
    return (np.asarray(model.predict(X)).astype(float) > 0.5).astype(int)


def _evaluate(models, X, y, s):
    """Test metrics per model, and each model's per-group report."""
    from ..metrics import fairness_report

    rows, reports = {}, {}
    for name, model in models.items():
        report = fairness_report(y, _predict01(model, X), sensitive_features=s)
        rows[name] = {"accuracy": report["accuracy"].iloc[-1],
                      **report.attrs["differences"]}
        reports[name] = report
    table = pd.DataFrame(rows).T[list(_METRIC_COLUMNS)]
    table.index.name = "model"
    return table, reports


# cv_results_ keys of each kind of path, as alpha_path.csv's columns.
_REFIT_COLUMNS = ("alpha", "val_accuracy", "val_gap", "val_within_tol")
_CROSSFIT_COLUMNS = ("alpha", "heldout_gap", "heldout_gap_std",
                     "heldout_utility_change", "heldout_utility_change_std",
                     "weight_change", "admissible")


def _path_kind(clf, args):
    """Which path ``cv_results_`` holds: "crossfit", "fallback" or "refit".

    "fallback": ``--alpha auto`` could not cross-fit (a validation set too
    small) and refitted one fixed alpha.
    """
    if "heldout_gap" in clf.cv_results_:
        return "crossfit"
    return "fallback" if args.alpha == AUTO else "refit"


def _alpha_path(clf, problem, kind):
    """Return the alpha path, and ERM's and the chosen refit's validation numbers.

    The path is one row per alpha refitted (validation accuracy and gap) or,
    cross-fitted, per candidate (held-out predictions); NaN marks candidates
    the scan stopped before. The two dicts hold ``val_accuracy`` and
    ``val_gap`` (in-sample: the weights were fitted to these rows).
    """
    results = clf.cv_results_
    columns = _CROSSFIT_COLUMNS if kind == "crossfit" else _REFIT_COLUMNS
    path = pd.DataFrame({c: results[c] for c in columns})
    path["chosen"] = path["alpha"] == clf.alpha_
    erm_pred = _predict01(clf.initial_estimator_, problem.X_val)
    erm = {"val_accuracy": float(np.mean(erm_pred == problem.y_val)),
           "val_gap": float(np.mean(np.abs(clf.validation_gaps_["hard_before"])))}
    if kind == "crossfit":
        chosen = {"val_accuracy": float(results["val_accuracy_chosen"]),
                  "val_gap": float(results["val_gap_chosen"])}
    else:
        row = path[path["chosen"]].iloc[0]
        chosen = {"val_accuracy": float(row["val_accuracy"]),
                  "val_gap": float(row["val_gap"])}
    return path, erm, chosen


def _weights_by_group(clf, problem):
    """Mean FairIF weight per (group, label) cell of the training rows."""
    frame = pd.DataFrame({
        "group": problem.s_train.to_numpy(),
        "label": np.asarray(problem.class_names)[problem.y_train],
        "weight": clf.sample_weight_,
    })
    cells = frame.groupby(["group", "label"], sort=True)["weight"]
    table = pd.DataFrame({
        "rows": cells.size(),
        "mean_weight": cells.mean(),
        "median_weight": cells.median(),
        "zero_weight_rows": cells.apply(lambda w: int((w == 0).sum())),
    })
    n = len(frame)
    table["share_of_rows"] = table["rows"] / n
    table["share_of_weight"] = cells.sum() / frame["weight"].sum()
    return table.reset_index()


@dataclass
class _Result:
    problem: _Problem
    clf: object
    table: pd.DataFrame
    reports: dict
    path: pd.DataFrame
    path_kind: str
    erm_val: dict
    chosen_val: dict
    weights: pd.DataFrame
    fit_seconds: float
    fairif_name: str


def _some(names):
    """Join the first SHOWN_GROUPS names, with their count when there are more."""
    shown = ", ".join(names[:SHOWN_GROUPS])
    return shown if len(names) <= SHOWN_GROUPS else f"{shown}, ... ({len(names)})"


def _run(problem, args):
    log = _logger(args.quiet)
    for note in problem.notes:
        log(f"note: {note}")
    log(f"{problem.title.replace('`', '')}: {len(problem.y_train):,} training rows "
        f"(group labels held back), {len(problem.y_val):,} validation rows "
        f"(with groups), {len(problem.y_test):,} {problem.eval_part} rows.")
    log(f"target {problem.target!r} (positive class: {problem.class_names[1]}), "
        f"sensitive attribute {problem.sensitive!r} "
        f"(groups: {_some(sorted(problem.s_val.unique()))}), "
        f"model: {args.model}, objective: {args.objective}.")
    clf, seconds = _fit(problem, args)
    kind = _path_kind(clf, args)
    # A candidate of auto's log grid, e.g. 0.215443..., shown to 3 digits.
    shown = f"{clf.alpha_:.3g}" if kind == "crossfit" else f"{clf.alpha_:g}"
    fairif_name = f"FairIF (alpha={shown})"
    models = {"ERM (unweighted)": clf.initial_estimator_, fairif_name: clf}
    table, reports = _evaluate(models, problem.X_test, problem.y_test, problem.s_test)
    path, erm_val, chosen_val = _alpha_path(clf, problem, kind)
    weights = _weights_by_group(clf, problem)
    return _Result(problem, clf, table, reports, path, kind, erm_val, chosen_val,
                   weights, seconds, fairif_name)


# Width of the narrative lines printed to the terminal (tables are not wrapped).
_WIDTH = 88


def _logger(quiet):
    """Return ``log(text, wrap=True)``: print, wrapping prose; nothing if quiet."""

    def log(text, wrap=True):
        if quiet:
            return
        if wrap:
            text = "\n".join(textwrap.fill(line, _WIDTH, subsequent_indent="  ")
                             for line in text.split("\n"))
        print(text)

    return log
