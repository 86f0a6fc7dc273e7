"""The ``fairif`` command line: ERM vs FairIF on bundled data or on your own CSV.

``fairif demo`` runs on a bundled data set, ``fairif fit`` on a CSV file. Both
fit the model without weights (ERM) and with FairIF's weights, print their test
metrics side by side, and write a report folder: ``report.md``, a plot of
accuracy against fairness over ``alpha``, and a summary of who was reweighted.
``fit`` also saves the fitted model with joblib.

Bad input ends with one ``fairif: error: ...`` line on stderr and exit status 2.
"""

import argparse
import contextlib
import io
import sys
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._objectives import NEEDS_LABELS, OBJECTIVES

# The alpha path tried by default: FairIF computes the influence once and refits
# once per value, then keeps the fairest model within ``tol`` of ERM's validation
# accuracy. A network refit costs far more than a logistic one, hence fewer.
DEFAULT_ALPHAS = {
    "logreg": (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
    "mlp": (0.01, 0.1, 1.0),
}
# Smallest validation set FairIF is allowed to measure a group's rates on.
MIN_VAL_ROWS_PER_GROUP = 10

_METRIC_COLUMNS = {
    "accuracy": "Acc",
    "accuracy_difference": "AD",
    "average_odds_difference": "AOD",
    "equal_opportunity_difference": "EOD",
    "demographic_parity_difference": "DP",
}
# The validation gap FairIF minimises, per objective, named after the test
# metric it equals with two groups.
_GAP_NAMES = {
    "equalized_odds": ("AOD", "mean of |TPR gap| and |TNR gap|"),
    "equal_opportunity": ("EOD", "|TPR gap|"),
    "accuracy_parity": ("AD", "|accuracy gap|"),
    "error_rate_parity": ("AD", "|accuracy gap|"),
    "demographic_parity": ("DP", "|selection-rate gap|"),
}
_DATASETS = {
    "adult": "Adult census income",
    "compas": "COMPAS two-year recidivism",
    "german": "German credit",
}


class CLIError(Exception):
    """Bad input: printed as one ``fairif: error: ...`` line, exit status 2."""


# --------------------------------------------------------------------- models
def tabular_model(estimator=None, *, numeric=None, categorical=None, dense=False):
    """One-hot categorical columns, impute and standardise numeric ones.

    Parameters
    ----------
    estimator : classifier, default=None
        The final step; ``LogisticRegression(max_iter=1000)`` when None.
    numeric, categorical : list of str, default=None
        Column names. When None, numeric columns (booleans excluded) are
        selected by dtype and every other column is categorical.
    dense : bool, default=False
        Produce a dense float32 array (for a torch network) rather than a
        sparse matrix.

    Returns
    -------
    pipeline : Pipeline
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    if numeric is None:
        numeric = make_column_selector(dtype_include="number", dtype_exclude="bool")
    if categorical is None:
        categorical = make_column_selector(dtype_exclude="number")
    pre = ColumnTransformer(
        [
            # Missing categories become a category of their own.
            ("categorical", OneHotEncoder(handle_unknown="ignore",
                                          sparse_output=not dense), categorical),
            ("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                      StandardScaler()), numeric),
        ],
        sparse_threshold=0.0 if dense else 0.3,
    )
    steps = [pre]
    if dense:
        steps.append(FunctionTransformer(np.asarray, kw_args={"dtype": np.float32}))
    return make_pipeline(*steps, estimator or LogisticRegression(max_iter=1000))


def _mlp(n_features, *, epochs, seed):
    """Return a small ReLU network as a skorch binary classifier."""
    try:
        import torch
        from skorch import NeuralNetBinaryClassifier
    except ImportError as exc:
        raise CLIError(
            f"--model mlp needs torch and skorch ({exc.name} is not installed): "
            "pip install 'sklearn-fairif[torch]'"
        ) from None
    torch.manual_seed(seed)
    # A module *instance*: every fit (ERM, each FairIF refit) starts from these
    # same initial weights, and the fitted net pickles without custom classes.
    module = torch.nn.Sequential(
        torch.nn.Linear(n_features, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 1),
    )
    return NeuralNetBinaryClassifier(
        module, max_epochs=epochs, batch_size=256, lr=1e-3,
        optimizer=torch.optim.Adam, optimizer__weight_decay=1e-4,
        train_split=None, verbose=0,
        callbacks=[("fairif_progress", _EpochTicker())],
    )


def _make_estimator(problem, args):
    if args.model == "logreg":
        return tabular_model(numeric=problem.numeric, categorical=problem.categorical)
    # The network's input width is the one-hot width: fit the preprocessing once
    # to know it (FairIF refits it, identically, inside the Pipeline).
    pre = tabular_model(numeric=problem.numeric, categorical=problem.categorical,
                        dense=True)[:-1]
    n_features = pre.fit_transform(problem.X_train).shape[1]
    net = _mlp(n_features, epochs=args.epochs, seed=args.seed)
    return tabular_model(net, numeric=problem.numeric,
                         categorical=problem.categorical, dense=True)


# ----------------------------------------------------------------------- data
@dataclass
class _Problem:
    """A train / validation / test split with display names."""

    title: str
    target: str
    sensitive: str
    class_names: tuple  # (negative, positive)
    X_train: pd.DataFrame
    y_train: np.ndarray
    s_train: pd.Series
    X_val: pd.DataFrame
    y_val: np.ndarray
    s_val: pd.Series
    X_test: pd.DataFrame
    y_test: np.ndarray
    s_test: pd.Series
    numeric: list
    categorical: list
    eval_part: str = "test"
    notes: list = field(default_factory=list)

    @property
    def features(self):
        return list(self.X_train.columns)


def _feature_types(X):
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
               and not pd.api.types.is_bool_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    return numeric, categorical


def _groups(s, names=None):
    """Group labels as strings (a named Series), for tables and plots."""
    s = pd.Series(np.asarray(s), name=s.name if hasattr(s, "name") else None)
    if names is not None:
        s = s.map(dict(enumerate(names)))
    return s.astype(str).reset_index(drop=True)


def _demo_problem(args):
    from . import datasets
    from .datasets import train_val_test_split

    bunch = getattr(datasets, f"load_{args.dataset}")()
    s = _groups(bunch.sensitive, bunch.sensitive_names)
    y = np.asarray(bunch.target, dtype=int)
    parts = train_val_test_split(bunch.data, y, s, random_state=args.seed)
    X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = parts
    numeric, categorical = _feature_types(bunch.data)
    return _Problem(
        title=f"{_DATASETS[args.dataset]} (bundled, `{args.dataset}`)",
        target=bunch.target.name, sensitive=bunch.sensitive.name,
        class_names=tuple(str(c) for c in bunch.target_names),
        X_train=X_tr, y_train=y_tr, s_train=s_tr.reset_index(drop=True),
        X_val=X_val, y_val=y_val, s_val=s_val.reset_index(drop=True),
        X_test=X_te, y_test=y_te, s_test=s_te.reset_index(drop=True),
        numeric=numeric, categorical=categorical,
    )


def _read_csv(path, option):
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise CLIError(f"{option} {path}: no such file") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError,
            UnicodeDecodeError, IsADirectoryError) as exc:
        raise CLIError(f"{option} {path}: cannot read it as CSV "
                       f"({str(exc).splitlines()[0]})") from None
    if frame.empty:
        raise CLIError(f"{option} {path}: no data rows")
    return frame


def _require_columns(frame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, frame.columns[:12]))
        n = len(frame.columns)
        more = f", ... ({n} columns)" if n > 12 else ""
        names = ", ".join(repr(c) for c in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise CLIError(f"{noun} {names} not found in {path} (its columns: "
                       f"{shown}{more})")


def _sorted_values(column):
    values = list(pd.unique(column.dropna()))
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _encode_target(column, name, positive, path):
    n_missing = int(column.isna().sum())
    if n_missing:
        raise CLIError(f"target column {name!r} has {n_missing} missing values in "
                       f"{path}; drop or fill those rows")
    values = _sorted_values(column)
    if len(values) != 2:
        shown = ", ".join(map(str, values[:5])) + (", ..." if len(values) > 5 else "")
        raise CLIError(f"target column {name!r} has {len(values)} distinct values "
                       f"({shown}); fairif needs a binary target (two classes)")
    if positive is not None:
        matches = [v for v in values if str(v) == positive]
        if not matches:
            raise CLIError(f"--positive-label {positive!r} is not a value of "
                           f"{name!r} (its values: {values[0]}, {values[1]})")
        pos = matches[0]
    elif set(map(str, values)) in ({"0", "1"}, {"False", "True"}):
        pos = values[1]
    else:
        pos = values[-1]
    neg = next(v for v in values if v is not pos and str(v) != str(pos))
    return (column == pos).to_numpy(dtype=int), (str(neg), str(pos))


def _check_sensitive(column, name, path):
    n_missing = int(column.isna().sum())
    if n_missing:
        raise CLIError(f"sensitive column {name!r} has {n_missing} missing values in "
                       f"{path}; drop or fill those rows")
    values = _sorted_values(column)
    if len(values) < 2:
        raise CLIError(f"sensitive column {name!r} has a single value "
                       f"({values[0]!r}) in {path}; FairIF needs at least two "
                       "groups")


def _stratified_split(index, y, s, test_size, seed):
    """Split positions keeping label x group cells, else labels, else nothing."""
    from sklearn.model_selection import train_test_split

    codes = pd.factorize(s)[0]
    for strata in (y * (codes.max() + 1) + codes, y, None):
        try:
            return train_test_split(index, test_size=test_size, random_state=seed,
                                    stratify=strata)
        except ValueError:
            continue
    raise CLIError(f"cannot split {len(index)} rows with test_size={test_size}")


def _csv_problem(args):
    frame = _read_csv(args.csv, "--csv")
    drop = _split_names(args.drop)
    if args.target == args.sensitive:
        raise CLIError("--target and --sensitive name the same column "
                       f"{args.target!r}")
    _require_columns(frame, [args.target, args.sensitive, *drop], args.csv)
    features = [c for c in frame.columns
                if c not in (args.target, args.sensitive, *drop)]
    if not features:
        raise CLIError(f"no feature columns left in {args.csv} after removing the "
                       "target, the sensitive column and --drop")
    y, class_names = _encode_target(frame[args.target], args.target,
                                    args.positive_label, args.csv)
    _check_sensitive(frame[args.sensitive], args.sensitive, args.csv)
    s = frame[args.sensitive].astype(str).rename(args.sensitive)
    X = frame[features]
    numeric, categorical = _feature_types(X)
    identifiers, notes = _identifier_columns(X, categorical)
    if len(identifiers) == len(features):
        raise CLIError(f"every feature column of {args.csv} has a distinct value "
                       f"in each row ({', '.join(identifiers)}): nothing to learn "
                       "from")
    features = [c for c in features if c not in identifiers]
    categorical = [c for c in categorical if c not in identifiers]
    X = X[features]

    index = np.arange(len(frame))
    if args.val_csv is None:
        if not 0 < args.val_fraction + args.test_fraction < 1:
            raise CLIError("--val-fraction plus --test-fraction must be below 1")
        rest = index
        if args.test_fraction:
            rest, test = _stratified_split(index, y, s, args.test_fraction,
                                           args.seed)
        fraction = args.val_fraction / (1 - args.test_fraction)
        train, val = _stratified_split(rest, y[rest], s.iloc[rest], fraction,
                                       args.seed)
        X_val, y_val, s_val = X.iloc[val], y[val], s.iloc[val]
    else:
        train = index
        if args.test_fraction:
            train, test = _stratified_split(index, y, s, args.test_fraction,
                                            args.seed)
        X_val, y_val, s_val = _validation_csv(args, numeric, class_names, features)
    if not args.test_fraction:
        test = None
    problem = _Problem(
        title=f"`{args.csv}`", target=args.target, sensitive=args.sensitive,
        class_names=class_names,
        X_train=X.iloc[train], y_train=y[train],
        s_train=s.iloc[train].reset_index(drop=True),
        X_val=X_val, y_val=y_val, s_val=s_val.reset_index(drop=True),
        X_test=None if test is None else X.iloc[test],
        y_test=None if test is None else y[test],
        s_test=None if test is None else s.iloc[test].reset_index(drop=True),
        numeric=numeric, categorical=categorical, notes=notes,
    )
    if test is None:
        # Nothing held out: evaluate on the validation rows, and say so.
        problem.X_test, problem.y_test, problem.s_test = (
            problem.X_val, problem.y_val, problem.s_val)
        problem.eval_part = "validation"
    return problem


def _validation_csv(args, numeric, class_names, features):
    frame = _read_csv(args.val_csv, "--val-csv")
    _require_columns(frame, [args.target, args.sensitive, *features], args.val_csv)
    target = frame[args.target]
    if target.isna().any():
        raise CLIError(f"target column {args.target!r} has missing values in "
                       f"{args.val_csv}")
    unknown = sorted({str(v) for v in target} - set(class_names))
    if unknown:
        raise CLIError(f"target column {args.target!r} in {args.val_csv} has values "
                       f"not in {args.csv}: {', '.join(unknown[:5])}")
    _check_sensitive(frame[args.sensitive], args.sensitive, args.val_csv)
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise CLIError(f"column {column!r} is numeric in {args.csv} but not in "
                           f"{args.val_csv}")
    y = (target.astype(str) == class_names[1]).to_numpy(dtype=int)
    s = frame[args.sensitive].astype(str).rename(args.sensitive)
    return frame[features], y, s


def _identifier_columns(X, categorical):
    """Text columns that look like identifiers, and a note for each.

    A column with a different value in every row is dropped: one-hot encoded,
    it would add a column per row and no category would recur in new rows.
    One with a distinct value in most rows is kept, with a note.
    """
    identifiers, notes = [], []
    for column in categorical:
        n_distinct = X[column].nunique()
        if n_distinct == len(X) and len(X) > 1:
            identifiers.append(column)
            notes.append(f"column {column!r} has a different value in every row "
                         "(an identifier?); it was left out of the features")
        elif n_distinct > 100 and n_distinct > 0.5 * len(X):
            notes.append(f"column {column!r} has {n_distinct:,} distinct values in "
                         f"{len(X):,} rows: if it is an identifier, pass "
                         f"--drop {column}")
    return identifiers, notes


def _check_validation_groups(problem, objective, where):
    """One line naming every group too small for FairIF to measure."""
    needs_labels = objective in NEEDS_LABELS
    bad = []
    for group, rows in pd.Series(problem.y_val).groupby(problem.s_val.to_numpy()):
        n, pos = len(rows), int(rows.sum())
        if n < MIN_VAL_ROWS_PER_GROUP or (needs_labels and pos in (0, n)):
            bad.append(f"{group!r} has {n} ({pos} positive, {n - pos} negative)")
    if bad:
        need = (f"at least {MIN_VAL_ROWS_PER_GROUP} rows per group"
                + (", with both classes present," if needs_labels else ""))
        raise CLIError(f"too few validation rows per group of {problem.sensitive!r}: "
                       f"{'; '.join(bad)}; FairIF needs {need} to measure the "
                       f"groups' rates ({where})")


# ---------------------------------------------------------------- progress
# Set while a run shows progress; the skorch callback below calls it.
_epoch_hook = None


class _EpochTicker:
    """A skorch callback (duck-typed, so skorch is not imported here).

    It forwards training begin and epoch ends to :data:`_epoch_hook`; with no
    hook (e.g. in a model loaded later) it does nothing.
    """

    def initialize(self):
        return self

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def on_train_begin(self, net, **kwargs):
        if _epoch_hook is not None:
            _epoch_hook("begin", net.max_epochs)

    def on_epoch_end(self, net, **kwargs):
        if _epoch_hook is not None:
            _epoch_hook("epoch", None)

    def on_train_end(self, net, **kwargs):
        pass

    def on_epoch_begin(self, net, **kwargs):
        pass

    def on_batch_begin(self, net, **kwargs):
        pass

    def on_batch_end(self, net, **kwargs):
        pass

    def on_grad_computed(self, net, named_parameters, **kwargs):
        pass


class _FitProgress(io.TextIOBase):
    """A tqdm bar over FairIF's stages, driven by its ``verbose=1`` lines.

    FairIF prints ``[FairIF] <stage>: <seconds>s`` after each stage; while
    ``stdout`` is redirected here, each such line moves the bar (stage 1, the
    influence, then one refit per alpha) and other lines pass through.
    """

    def __init__(self, alphas, stdout):
        from tqdm.auto import tqdm

        self.alphas, self.stdout, self.buffer = alphas, stdout, ""
        self.refits = 0
        self.bar = tqdm(total=2 + len(alphas), unit="step", leave=False,
                        desc="FairIF: stage 1 (unweighted fit)", file=sys.stderr)
        self.epochs = None

    def write(self, text):
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.startswith("[FairIF] "):
                self._stage(line[len("[FairIF] "):].rsplit(":", 1)[0])
            else:
                self.stdout.write(line + "\n")
        return len(text)

    def _stage(self, stage):
        if stage.startswith("stage 2"):
            self.refits += 1
        elif not (stage.startswith("stage 1") or stage == "influence"):
            return  # the weight solve takes milliseconds
        if stage.startswith("stage 1"):
            self.bar.set_description("FairIF: influence", refresh=False)
        elif self.refits < len(self.alphas):
            self.bar.set_description(
                f"FairIF: refit {self.refits + 1}/{len(self.alphas)} "
                f"(alpha={self.alphas[self.refits]:g})", refresh=False)
        self.bar.update(1)

    def epoch(self, event, total):
        from tqdm.auto import tqdm

        if event == "begin":
            if self.epochs is None:
                self.epochs = tqdm(total=total, unit="epoch", leave=False,
                                   desc="  training", position=1, file=sys.stderr)
            self.epochs.reset(total=total)
        else:
            self.epochs.update(1)

    def close(self):
        if self.epochs is not None:
            self.epochs.close()
        self.bar.close()
        if self.buffer:  # a last line without its newline
            self.stdout.write(self.buffer)


@contextlib.contextmanager
def _progress(alphas, quiet):
    global _epoch_hook
    if quiet:
        yield
        return
    progress = _FitProgress(alphas, sys.stdout)
    _epoch_hook = progress.epoch
    try:
        with contextlib.redirect_stdout(progress):
            yield
    finally:
        _epoch_hook = None
        progress.close()


# ----------------------------------------------------------------------- run
def _fit(problem, args):
    from ._fairif import FairIFClassifier

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
    clf = FairIFClassifier(
        estimator, objective=args.objective, alpha=list(args.alpha), tol=args.tol,
        random_state=args.seed, verbose=0 if args.quiet else 1, **params,
    )
    start = time.perf_counter()
    try:
        with _progress(list(args.alpha), args.quiet):
            clf.fit(problem.X_train, y_train, X_val=problem.X_val, y_val=y_val,
                    s_val=problem.s_val.to_numpy())
    except ValueError as exc:
        hint = " (--damping)" if "damping" in str(exc) else ""
        raise CLIError(f"fitting failed: {exc}{hint}") from None
    clf.verbose = 0
    return clf, time.perf_counter() - start


def _predict01(model, X):
    return (np.asarray(model.predict(X)).astype(float) > 0.5).astype(int)


def _evaluate(models, X, y, s):
    """Test metrics per model, and each model's per-group report."""
    from .metrics import fairness_report

    rows, reports = {}, {}
    for name, model in models.items():
        report = fairness_report(y, _predict01(model, X), sensitive_features=s)
        rows[name] = {"accuracy": report["accuracy"].iloc[-1],
                      **report.attrs["differences"]}
        reports[name] = report
    table = pd.DataFrame(rows).T[list(_METRIC_COLUMNS)]
    table.index.name = "model"
    return table, reports


def _alpha_path(clf, problem):
    """Return validation accuracy and gap per alpha, and ERM's, as FairIF saw them."""
    path = pd.DataFrame({
        "alpha": clf.cv_results_["alpha"],
        "val_accuracy": clf.cv_results_["val_accuracy"],
        "val_gap": clf.cv_results_["val_gap"],
    })
    path["chosen"] = path["alpha"] == clf.alpha_
    erm_pred = _predict01(clf.initial_estimator_, problem.X_val)
    erm = {"val_accuracy": float(np.mean(erm_pred == problem.y_val)),
           "val_gap": float(np.mean(np.abs(clf.validation_gaps_["hard_before"])))}
    return path, erm


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
    erm_val: dict
    weights: pd.DataFrame
    fit_seconds: float
    fairif_name: str


def _run(problem, args):
    log = _logger(args.quiet)
    for note in problem.notes:
        log(f"note: {note}")
    log(f"{problem.title.replace('`', '')}: {len(problem.y_train):,} training rows "
        f"(group labels held back), {len(problem.y_val):,} validation rows "
        f"(with groups), {len(problem.y_test):,} {problem.eval_part} rows.")
    log(f"target {problem.target!r} (positive class: {problem.class_names[1]}), "
        f"sensitive attribute {problem.sensitive!r} "
        f"(groups: {', '.join(sorted(problem.s_val.unique()))}), "
        f"model: {args.model}, objective: {args.objective}.")
    clf, seconds = _fit(problem, args)
    fairif_name = f"FairIF (alpha={clf.alpha_:g})"
    models = {"ERM (unweighted)": clf.initial_estimator_, fairif_name: clf}
    table, reports = _evaluate(models, problem.X_test, problem.y_test, problem.s_test)
    path, erm_val = _alpha_path(clf, problem)
    weights = _weights_by_group(clf, problem)
    return _Result(problem, clf, table, reports, path, erm_val, weights, seconds,
                   fairif_name)


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


# -------------------------------------------------------------------- output
def _format_table(table):
    shown = table.rename(columns=_METRIC_COLUMNS)
    return shown.to_string(float_format=lambda v: f"{v:.3f}")


def _summary_lines(result, args):
    """Plain-language reading of the result, for the terminal and report.md."""
    table, path = result.table, result.path
    erm, fair = table.iloc[0], table.iloc[1]
    gap_name = _GAP_NAMES[args.objective][0]
    lines = []
    test_metric = {"AOD": "average_odds_difference", "EOD":
                   "equal_opportunity_difference", "AD": "accuracy_difference",
                   "DP": "demographic_parity_difference"}[gap_name]
    before, after = erm[test_metric], fair[test_metric]
    change = "fell" if after < before else "rose" if after > before else "stayed"
    lines.append(
        f"On the {result.problem.eval_part} set, {gap_name} {change} from "
        f"{before:.3f} to {after:.3f} and accuracy went from {erm['accuracy']:.3f} "
        f"to {fair['accuracy']:.3f} ({100 * (fair['accuracy'] - erm['accuracy']):+.1f}"
        " points).")
    n_alpha = len(path)
    if n_alpha > 1:
        admissible = path["val_accuracy"] >= result.erm_val["val_accuracy"] - args.tol
        rule = (f"alpha={result.clf.alpha_:g} was chosen from {n_alpha} values: the "
                f"smallest validation {gap_name} among those keeping validation "
                f"accuracy within --tol={args.tol:g} of ERM's")
        if not admissible.any():
            rule = (f"no alpha kept validation accuracy within --tol={args.tol:g} of "
                    f"ERM's, so the most accurate, alpha={result.clf.alpha_:g}, was "
                    "kept; a larger --tol allows fairer, less accurate models")
        elif result.clf.alpha_ == max(path["alpha"]):
            rule += ("; it is the largest value tried (the mildest reweighting): "
                     "a larger --tol allows fairer, less accurate models")
        lines.append(rule + ".")
    return lines


def _print_result(result, args):
    log = _logger(args.quiet)
    problem = result.problem
    log(f"\n{problem.eval_part.capitalize()} set ({len(problem.y_test):,} rows), "
        f"FairIF fitted in {result.fit_seconds:.1f}s:")
    log(_format_table(result.table.rename_axis(None)), wrap=False)
    log("Acc: accuracy. AD, AOD, EOD, DP: accuracy, average-odds, "
        "equal-opportunity and demographic-parity differences between groups "
        "(lower is fairer).")
    log("")
    for line in _summary_lines(result, args):
        log(line)
    log("\nWho was reweighted (mean FairIF weight of the training rows; their "
        "groups were used only for this summary):")
    shown = result.weights.rename(columns={
        "group": problem.sensitive, "label": problem.target,
        "mean_weight": "mean weight"})
    log(shown[[problem.sensitive, problem.target, "rows", "mean weight"]].to_string(
        index=False, float_format=lambda v: f"{v:.2f}"), wrap=False)


def _write_report(result, args, out, extra_files=()):
    out.mkdir(parents=True, exist_ok=True)
    result.table.rename(columns=_METRIC_COLUMNS).to_csv(out / "metrics.csv")
    result.path.to_csv(out / "alpha_path.csv", index=False)
    weights = result.weights.rename(columns={"group": result.problem.sensitive})
    weights.to_csv(out / "weights_by_group.csv", index=False)
    plots = _plots(result, args, out)
    files = ["report.md", "metrics.csv", "alpha_path.csv", "weights_by_group.csv",
             *plots, *extra_files]
    (out / "report.md").write_text(_report_markdown(result, args, plots, files),
                                   encoding="utf-8")
    return files


def _plots(result, args, out):
    """Write the two figures; without matplotlib, write none and say so."""
    try:
        import matplotlib
    except ImportError:
        result.problem.notes.append(
            "plots skipped: matplotlib is not installed "
            "(pip install 'sklearn-fairif[report]')")
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    with plt.rc_context({"figure.dpi": 110, "font.size": 9}):
        fig = _plot_alpha_path(plt, result, args)
        fig.savefig(out / "accuracy_vs_fairness.png", bbox_inches="tight")
        plt.close(fig)
        written.append("accuracy_vs_fairness.png")
        fig = _plot_weights(plt, result)
        fig.savefig(out / "weights_by_group.png", bbox_inches="tight")
        plt.close(fig)
        written.append("weights_by_group.png")
    return written


def _gap_label(args, n_groups):
    name, formula = _GAP_NAMES[args.objective]
    if n_groups == 2:
        return f"validation {name}: {formula} (lower is fairer)"
    return ("validation gap: mean |group rate - overall rate| of the "
            f"{args.objective} rates (lower is fairer)")


def _plot_alpha_path(plt, result, args):
    path, erm = result.path, result.erm_val
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.axhspan(erm["val_accuracy"] - args.tol, 1.0, color="tab:green", alpha=0.08,
               lw=0, label=f"accuracy within tol={args.tol:g} of ERM")
    ax.plot(path["val_gap"], path["val_accuracy"], "o-", color="tab:blue",
            label="FairIF, one point per alpha")
    for row in path.itertuples():
        ax.annotate(f"{row.alpha:g}", (row.val_gap, row.val_accuracy),
                    textcoords="offset points", xytext=(5, -10), fontsize=7,
                    color="tab:blue")
    chosen = path[path["chosen"]].iloc[0]
    ax.plot(chosen["val_gap"], chosen["val_accuracy"], "o", ms=14, mfc="none",
            mec="tab:red", mew=2, label=f"chosen: alpha={chosen['alpha']:g}")
    ax.plot(erm["val_gap"], erm["val_accuracy"], "*", ms=14, color="black",
            label="ERM (no reweighting)")
    accuracies = [*path["val_accuracy"], erm["val_accuracy"]]
    gaps = [*path["val_gap"], erm["val_gap"]]
    span = max(max(accuracies) - min(accuracies), 2 * args.tol, 0.01)
    ax.set_ylim(min(accuracies) - 0.25 * span, max(accuracies) + 0.25 * span)
    ax.set_xlim(left=min(0.0, min(gaps)) - 0.02 * max(gaps),
                right=1.1 * max(gaps) + 1e-3)
    ax.set_xlabel(_gap_label(args, result.problem.s_val.nunique()))
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"Accuracy vs fairness over alpha ({len(result.problem.y_val):,} "
                 "validation rows)\nsmaller alpha = stronger reweighting; "
                 "up and left is better", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def _plot_weights(plt, result):
    table = result.weights
    problem = result.problem
    groups = list(dict.fromkeys(table["group"]))
    labels = list(problem.class_names)
    colors = ["tab:orange", "tab:blue"]

    def wrap(text):  # long group or label names break over lines
        return textwrap.fill(str(text), 14)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    width = 0.38
    x = np.arange(len(groups))
    for j, label in enumerate(labels):
        cell = table[table["label"] == label].set_index("group").reindex(groups)
        bars = ax1.bar(x + (j - 0.5) * width, cell["mean_weight"], width,
                       color=colors[j], label=label)
        for bar, rows in zip(bars, cell["rows"], strict=True):
            height = bar.get_height()
            if not np.isfinite(height):  # an empty cell
                continue
            centre = bar.get_x() + width / 2
            ax1.annotate(f"{height:.2f}", (centre, height), xytext=(0, 2),
                         textcoords="offset points", ha="center", fontsize=8)
            ax1.annotate(f"n={int(rows):,}", (centre, 0), xytext=(0, 3),
                         textcoords="offset points", ha="center", fontsize=7,
                         color="white")
    ax1.axhline(1.0, color="black", lw=0.8, ls="--", label="no reweighting (1)")
    rotation = 30 if len(groups) > 4 else 0
    ax1.set_xticks(x, [wrap(g) for g in groups], rotation=rotation)
    ax1.set_ylabel("mean FairIF weight")
    ax1.set_title(f"Mean weight per {problem.sensitive} and {problem.target}",
                  fontsize=9)
    ax1.set_ylim(0, 1.15 * max(1.0, float(table["mean_weight"].max())))
    ax1.legend(title=problem.target, fontsize=7, title_fontsize=7, ncol=3,
               loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)

    names = [f"{wrap(g)}\n{wrap(label)}"
             for g, label in zip(table["group"], table["label"], strict=True)]
    x2 = np.arange(len(names))
    ax2.bar(x2 - 0.2, 100 * table["share_of_rows"], 0.4, color="0.7",
            label="share of training rows")
    ax2.bar(x2 + 0.2, 100 * table["share_of_weight"], 0.4, color="tab:purple",
            label="share of FairIF weight")
    ax2.set_xticks(x2, names, fontsize=7, rotation=30 if len(names) > 6 else 0)
    ax2.set_ylabel("% of the training set")
    ax2.set_title(f"Share of the training set per {problem.sensitive} and "
                  f"{problem.target}", fontsize=9)
    top = 100 * float(max(table["share_of_rows"].max(),
                          table["share_of_weight"].max()))
    ax2.set_ylim(0, 1.3 * top)  # headroom for the legend
    ax2.legend(fontsize=7, ncol=2, loc="upper center", frameon=False)
    fig.suptitle("Who was reweighted (training rows; their groups are used only "
                 "for this summary)", fontsize=9)
    fig.tight_layout()
    return fig


def _markdown_table(frame, float_format="{:.3f}", index=True):
    frame = frame.reset_index() if index else frame
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"

    def cell(v):
        if isinstance(v, (bool, np.bool_)):
            return "**yes**" if v else ""
        if isinstance(v, (float, np.floating)):
            return float_format.format(v)
        if isinstance(v, (int, np.integer)):
            return f"{v:,}"
        return str(v)

    body = ["| " + " | ".join(cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def _report_markdown(result, args, plots, files):
    from . import __version__

    p = result.problem
    gap_name = _GAP_NAMES[args.objective][0]
    command = "fairif " + " ".join(args.argv)
    lines = [
        f"# FairIF report: {p.title}",
        "",
        f"`{command}` (sklearn-fairif {__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "FairIF fits the model once without weights (**ERM**), estimates with "
        "influence functions how up-weighting each training row would move the "
        "fairness gaps measured on the validation rows, solves for weights that "
        "close those gaps, and refits. Only the validation rows need group labels.",
        "",
        "## Data",
        "",
        "| part | rows | group labels |",
        "|---|---|---|",
        f"| training | {len(p.y_train):,} | held back: used only for the 'who was "
        "reweighted' summary below |",
        f"| validation | {len(p.y_val):,} | used by FairIF to measure the gaps |",
    ]
    if p.eval_part == "test":
        lines.append(f"| test | {len(p.y_test):,} | used only to evaluate |")
    lines += [
        "",
        f"- target: `{p.target}`, positive class `{p.class_names[1]}`, negative "
        f"class `{p.class_names[0]}`",
        f"- sensitive attribute: `{p.sensitive}`, groups "
        + ", ".join(f"`{g}`" for g in sorted(p.s_val.unique()))
        + " (never a feature of the model)",
        f"- features ({len(p.features)}): "
        + ", ".join(f"`{c}`" for c in p.features),
        f"- model: {_model_description(args)}; objective `{args.objective}`; "
        f"alpha tried: {', '.join(f'{a:g}' for a in args.alpha)}",
    ]
    lines += [f"- note: {note}" for note in p.notes]
    lines += [
        "",
        f"## Result on the {p.eval_part} set",
        "",
        _markdown_table(result.table.rename(columns=_METRIC_COLUMNS)),
        "",
        "Acc is accuracy. AD, AOD, EOD and DP are the accuracy, average-odds "
        "(mean of the TPR and FPR gaps), equal-opportunity (TPR gap) and "
        "demographic-parity (selection-rate gap) differences between the groups: "
        "0 is perfectly fair, lower is fairer.",
        "",
        *_summary_lines(result, args),
        "",
    ]
    if p.eval_part == "validation":
        lines += ["**These numbers are on the validation rows that FairIF used to "
                  "choose its weights, so they are optimistic; pass "
                  "--test-fraction to hold out a test set.**", ""]
    for name, report in result.reports.items():
        lines += [f"### Per-group rates: {name}", "",
                  _markdown_table(report.rename(columns={
                      "count": "rows", "tpr": "TPR", "tnr": "TNR",
                      "selection_rate": "selection rate"})), ""]
    lines += [
        "## Choosing alpha (validation set)",
        "",
        "`alpha` is the price of moving weights away from 1: small values "
        "reweight hard to close the validation gap, large values stay close to "
        "ERM. FairIF computes the influence once and refits once per alpha, then "
        f"keeps the alpha with the smallest validation {gap_name} among those whose "
        f"validation accuracy is within `--tol` ({args.tol:g}) of ERM's.",
        "",
    ]
    if "accuracy_vs_fairness.png" in plots:
        lines += ["![accuracy vs fairness](accuracy_vs_fairness.png)", ""]
    path = result.path.rename(columns={
        "val_accuracy": "validation accuracy", "val_gap": f"validation {gap_name}"})
    erm_row = pd.DataFrame([{"alpha": "ERM", "validation accuracy":
                             result.erm_val["val_accuracy"], f"validation {gap_name}":
                             result.erm_val["val_gap"], "chosen": False}])
    lines += [_markdown_table(pd.concat([erm_row, path.astype({"alpha": object})]),
                              index=False), ""]
    lines += [
        "## Who was reweighted",
        "",
        "Mean FairIF weight (mean 1 over all training rows) per group and label "
        "of the training rows. FairIF never saw these groups; they are used here "
        "only to explain the weights, as in the FairIF paper's sample-weight "
        "study. A mean above 1 means FairIF made those rows count more.",
        "",
    ]
    if "weights_by_group.png" in plots:
        lines += ["![weights by group](weights_by_group.png)", ""]
    shown = result.weights.rename(columns={
        "group": p.sensitive, "label": p.target, "mean_weight": "mean weight",
        "median_weight": "median weight", "zero_weight_rows": "rows with weight 0",
        "share_of_rows": "share of rows", "share_of_weight": "share of weight"})
    lines += [_markdown_table(shown, index=False, float_format="{:.3f}"), "",
              f"Weights overall: min {result.clf.sample_weight_.min():.2f}, max "
              f"{result.clf.sample_weight_.max():.2f}; "
              f"{int((result.clf.sample_weight_ == 0).sum()):,} rows got weight 0.",
              ""]
    if args.command == "fit":
        lines += [
            "## Using the saved model",
            "",
            "```python",
            "import joblib",
            "import pandas as pd",
            "",
            f"model = joblib.load({str(args.model_out)!r})",
            "X = pd.read_csv('new_rows.csv')[model.feature_names_in_]",
            "model.predict(X)  # no group labels needed",
            "```",
            "",
        ]
    lines += ["## Files", "", *[f"- `{name}`" for name in files], ""]
    return "\n".join(lines)


def _model_description(args):
    if args.model == "mlp":
        return (f"MLP (64-32 ReLU, skorch, Adam, {args.epochs} epochs) after "
                "one-hot encoding and standardising")
    return "logistic regression after one-hot encoding and standardising"


# ------------------------------------------------------------------ commands
def demo(args):
    """ERM vs FairIF on a bundled data set; writes the report folder."""
    problem = _demo_problem(args)
    return _finish(problem, args)


def fit(args):
    """ERM vs FairIF on a CSV file; saves the model and writes the report."""
    problem = _csv_problem(args)
    if args.model_out is None:
        args.model_out = Path(args.out) / "model.joblib"
    return _finish(problem, args, save_model=True)


def _finish(problem, args, save_model=False):
    if args.alpha is None:
        args.alpha = DEFAULT_ALPHAS[args.model]
    result = _run(problem, args)
    _print_result(result, args)
    out = Path(args.out)
    extra = []
    if save_model:
        import joblib

        model_out = Path(args.model_out)
        model_out.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(result.clf, model_out)
        extra.append(model_out.name if model_out.parent == out else str(model_out))
    n_notes = len(problem.notes)
    files = _write_report(result, args, out, extra)
    for note in problem.notes[n_notes:]:  # e.g. plots skipped
        _logger(args.quiet)(f"note: {note}")
    _logger(args.quiet)(f"\nReport: {out / 'report.md'} ({', '.join(files[1:])})")
    return result


# ---------------------------------------------------------------------- main
def _alpha_list(text):
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number or comma-separated numbers, got {text!r}") from None
    if not values or any(not np.isfinite(v) or v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"alpha values must be > 0, got {text!r}")
    return tuple(values)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _split_names(text):
    return [] if not text else [c.strip() for c in text.split(",") if c.strip()]


def _add_common(p):
    model = p.add_argument_group("model")
    model.add_argument("--model", choices=["logreg", "mlp"], default="logreg",
                       help="logistic regression (default) or a small skorch MLP "
                            "(needs sklearn-fairif[torch])")
    model.add_argument("--objective", choices=list(OBJECTIVES),
                       default="equalized_odds", metavar="NAME",
                       help="which group rates to equalise on the validation set: "
                            + ", ".join(OBJECTIVES)
                            + " (default: equalized_odds, i.e. TPR and TNR)")
    model.add_argument("--alpha", type=_alpha_list, default=None,
                       help="one alpha, or comma-separated values to choose from "
                            "(default: 0.001,0.003,...,1 for logreg, "
                            "0.01,0.1,1 for mlp)")
    model.add_argument("--tol", type=_non_negative, default=0.01,
                       help="validation-accuracy loss allowed when choosing alpha "
                            "(default: 0.01)")
    model.add_argument("--damping", type=_non_negative, default=None,
                       help="Hessian damping (default: FairIFClassifier's, which "
                            "adapts it to the model)")
    model.add_argument("--epochs", type=_positive_int, default=20,
                       help="training epochs of --model mlp (default: 20)")
    run = p.add_argument_group("run")
    run.add_argument("--out", default="fairif_report",
                     help="report folder (default: ./fairif_report)")
    run.add_argument("--seed", type=int, default=0,
                     help="random seed of the splits and models (default: 0)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars and no output except errors")


def _parser():
    parser = argparse.ArgumentParser(
        prog="fairif",
        description="Fairer classifiers by influence-function reweighting "
                    "(FairIF): compare the unweighted model (ERM) with FairIF "
                    "and write a report.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "demo", help="ERM vs FairIF on a bundled data set",
        description="ERM vs FairIF on a bundled data set (60% training rows "
                    "without group labels, 20% validation rows with them, 20% "
                    "test rows).")
    p.add_argument("--dataset", choices=list(_DATASETS), default="adult",
                   help="bundled data set (default: adult)")
    _add_common(p)
    p = sub.add_parser(
        "fit", help="ERM vs FairIF on your own CSV; saves the model",
        description="ERM vs FairIF on your own CSV. Categorical columns are "
                    "one-hot encoded and numeric ones imputed and standardised; "
                    "the sensitive column is never a feature: FairIF reads it on "
                    "the validation rows only (and the report uses it to "
                    "evaluate and to explain the weights).")
    data = p.add_argument_group("data")
    data.add_argument("--csv", required=True, help="the data, one row per sample")
    data.add_argument("--target", required=True, help="binary target column")
    data.add_argument("--sensitive", required=True,
                      help="sensitive attribute column (two or more groups)")
    data.add_argument("--positive-label", default=None,
                      help="the favourable target value (default: 1/True, else "
                           "the last value in sorted order)")
    data.add_argument("--drop", default=None,
                      help="comma-separated columns to leave out of the features")
    val = data.add_mutually_exclusive_group()
    val.add_argument("--val-fraction", type=_fraction, default=0.2,
                     help="rows of --csv used as validation set (default: 0.2)")
    val.add_argument("--val-csv", default=None,
                     help="a separate validation file with the same columns")
    data.add_argument("--test-fraction", type=_fraction, default=0.2,
                      help="rows of --csv held out to evaluate (default: 0.2; 0 "
                           "evaluates on the validation rows)")
    data.add_argument("--model-out", default=None,
                      help="where to save the fitted model (default: "
                           "<out>/model.joblib)")
    _add_common(p)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fairif: warning: {message}", file=sys.stderr)


def main(argv=None):
    """Entry point of ``python -m sklearn_fairif`` and the ``fairif`` script.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 on bad input (after one ``fairif: error:`` line).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code
    args.argv = argv
    commands = {"demo": demo, "fit": fit}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # The summary explains this case in its own words.
        warnings.filterwarnings("ignore", message="No alpha kept", category=UserWarning)
        warnings.showwarning = _show_warning
        try:
            commands[args.command](args)
        except CLIError as exc:
            print(f"fairif: error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
