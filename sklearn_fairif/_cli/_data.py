"""Loading a problem: a bundled data set or a CSV file, split and checked."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import (
    _DATASETS,
    MANY_GROUPS,
    MAX_CODE_VALUES,
    MIN_VAL_ROWS_PER_GROUP,
    NEEDS_LABELS,
    SHOWN_GROUPS,
    CLIError,
)


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
    # The target's own values (negative, positive), e.g. ints or strings, which
    # the saved model predicts; ``class_names`` are their display strings.
    class_values: tuple = None

    @property
    def features(self):
        return list(self.X_train.columns)


def _feature_types(X, forced_categorical=()):
    """Split the columns into numeric and categorical ones, by dtype.

    Columns in ``forced_categorical`` (``--categorical``) are categorical
    whatever their dtype.
    """
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
               and not pd.api.types.is_bool_dtype(X[c])
               and c not in forced_categorical]
    categorical = [c for c in X.columns if c not in numeric]
    return numeric, categorical


def _column_type_notes(X, numeric, categorical, forced_categorical=(), *,
                       suggest=True):
    """Say which columns were treated how, and which integers may be codes.

    ``suggest``: offer ``--categorical`` for integer columns with few values
    (``fit`` only; the bundled data sets have their types set).
    """
    notes = [
        f"numeric columns ({len(numeric)}): {_names(numeric)}",
        f"categorical columns ({len(categorical)}): {_names(categorical)}",
    ]
    codes = [c for c in numeric if pd.api.types.is_integer_dtype(X[c])
             and 2 < X[c].nunique() <= MAX_CODE_VALUES
             and c not in forced_categorical] if suggest else []
    if codes:
        notes.append(
            f"integer column(s) {_names(codes)} have at most {MAX_CODE_VALUES} "
            "distinct values and were treated as numbers; if they are codes "
            f"(an industry, a year...), pass --categorical {','.join(codes)}")
    return notes


def _names(columns):
    return ", ".join(map(str, columns)) if columns else "none"


def _check_finite_features(frame, numeric, path):
    """Refuse infinite values, naming the column (NaN is imputed)."""
    for column in numeric:
        values = frame[column].to_numpy(dtype=float, na_value=np.nan)
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise CLIError(f"column {column!r} of {path} has {infinite.size} "
                           f"infinite value(s) (the first in data row "
                           f"{infinite[0] + 1}); replace them by numbers or leave "
                           "the cells empty (missing values are imputed)")
        with np.errstate(over="ignore", invalid="ignore"):
            spread = np.nanvar(values) if np.isfinite(values).any() else 0.0
        if not np.isfinite(spread):
            big = np.nanmax(np.abs(values))
            raise CLIError(f"column {column!r} of {path} has values too large to "
                           f"standardise (up to {big:.3g}); rescale the column")


def _groups(s, names=None):
    """Group labels as strings (a named Series), for tables and plots."""
    s = pd.Series(np.asarray(s), name=s.name if hasattr(s, "name") else None)
    if names is not None:
        s = s.map(dict(enumerate(names)))
    return s.astype(str).reset_index(drop=True)


def _demo_problem(args):
    from .. import datasets
    from ..datasets import train_val_test_split

    bunch = getattr(datasets, f"load_{args.dataset}")()
    s = _groups(bunch.sensitive, bunch.sensitive_names)
    y = np.asarray(bunch.target, dtype=int)
    parts = train_val_test_split(bunch.data, y, s, random_state=args.seed)
    X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = parts
    numeric, categorical = _feature_types(bunch.data)
    return _Problem(
        class_values=tuple(str(c) for c in bunch.target_names),
        title=f"{_DATASETS[args.dataset]} (bundled, `{args.dataset}`)",
        target=bunch.target.name, sensitive=bunch.sensitive.name,
        class_names=tuple(str(c) for c in bunch.target_names),
        X_train=X_tr, y_train=y_tr, s_train=s_tr.reset_index(drop=True),
        X_val=X_val, y_val=y_val, s_val=s_val.reset_index(drop=True),
        X_test=X_te, y_test=y_te, s_test=s_te.reset_index(drop=True),
        numeric=numeric, categorical=categorical,
        notes=_column_type_notes(bunch.data, numeric, categorical, suggest=False),
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


def _label(value):
    """Return a class or group value as text, an integral float as its integer.

    pandas reads a column of 0 and 1 as 0.0 and 1.0 when the file writes them
    so (or has a float elsewhere in it): both name the same classes.
    """
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _labels(column):
    """Return :func:`_label` of every value of a (non-missing) column."""
    if pd.api.types.is_float_dtype(column) and bool((column % 1 == 0).all()):
        column = column.astype(np.int64)
    return column.astype(str)


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
        matches = [v for v in values if _label(v) == positive]
        if not matches:
            raise CLIError(f"--positive-label {positive!r} is not a value of "
                           f"{name!r} (its values: {values[0]}, {values[1]})")
        pos = matches[0]
    elif set(map(_label, values)) in ({"0", "1"}, {"False", "True"}):
        pos = values[1]
    else:
        pos = values[-1]
    neg = next(v for v in values if v is not pos and _label(v) != _label(pos))
    return (column == pos).to_numpy(dtype=int), (_label(neg), _label(pos)), (
        _py(neg), _py(pos))


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


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
    raise CLIError(f"cannot split {len(index)} rows into parts of "
                   f"{test_size:.0%} and {1 - test_size:.0%}: too few rows")


def _csv_problem(args):
    frame = _read_csv(args.csv, "--csv")
    drop = _split_names(args.drop)
    if args.target == args.sensitive:
        raise CLIError("--target and --sensitive name the same column "
                       f"{args.target!r}")
    forced = _split_names(args.categorical)
    _require_columns(frame, [args.target, args.sensitive, *drop, *forced], args.csv)
    clash = [c for c in forced if c in (args.target, args.sensitive, *drop)]
    if clash:
        raise CLIError(f"--categorical names {_names(clash)}, which is not a "
                       "feature (the target, the sensitive column or --drop)")
    features = [c for c in frame.columns
                if c not in (args.target, args.sensitive, *drop)]
    if not features:
        raise CLIError(f"no feature columns left in {args.csv} after removing the "
                       "target, the sensitive column and --drop")
    y, class_names, class_values = _encode_target(
        frame[args.target], args.target, args.positive_label, args.csv)
    _check_sensitive(frame[args.sensitive], args.sensitive, args.csv)
    s = _labels(frame[args.sensitive]).rename(args.sensitive)
    X = frame[features]
    numeric, categorical = _feature_types(X, forced)
    _check_finite_features(X, numeric, args.csv)
    identifiers, notes = _identifier_columns(X, categorical)
    if len(identifiers) == len(features):
        raise CLIError(f"every feature column of {args.csv} has a distinct value "
                       f"in each row ({', '.join(identifiers)}): nothing to learn "
                       "from")
    features = [c for c in features if c not in identifiers]
    categorical = [c for c in categorical if c not in identifiers]
    X = X[features]
    notes = _column_type_notes(X, numeric, categorical, forced) + notes

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
        X_val, y_val, s_val = _validation_csv(args, numeric, class_names, features,
                                              s, frame.columns)
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
        class_values=class_values,
    )
    if test is None:
        # Nothing held out: evaluate on the validation rows, and say so.
        problem.X_test, problem.y_test, problem.s_test = (
            problem.X_val, problem.y_val, problem.s_val)
        problem.eval_part = "validation"
    return problem


def _same_file(a, b):
    a, b = Path(a), Path(b)
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists()
                                              and a.samefile(b))
    except OSError:
        return False


def _validation_csv(args, numeric, class_names, features, s_train, columns):
    if _same_file(args.val_csv, args.csv):
        raise CLIError(f"--val-csv {args.val_csv} is the --csv file itself: "
                       "FairIF would measure the gaps on its own training rows; "
                       "pass a separate file, or leave out --val-csv to split "
                       "--csv (--val-fraction)")
    frame = _read_csv(args.val_csv, "--val-csv")
    _require_columns(frame, [args.target, args.sensitive, *features], args.val_csv)
    known = set(columns)
    extra = [c for c in frame.columns if c not in known]
    if extra:
        raise CLIError(f"--val-csv {args.val_csv} has column(s) that {args.csv} "
                       f"does not have: {_names(extra[:5])}; both files need the "
                       "same columns (pass --drop for columns to ignore)")
    target = frame[args.target]
    if target.isna().any():
        raise CLIError(f"target column {args.target!r} has missing values in "
                       f"{args.val_csv}")
    unknown = sorted(set(_labels(target)) - set(class_names))
    if unknown:
        raise CLIError(f"target column {args.target!r} in {args.val_csv} has values "
                       f"not in {args.csv}: {', '.join(unknown[:5])}")
    _check_sensitive(frame[args.sensitive], args.sensitive, args.val_csv)
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise CLIError(f"column {column!r} is numeric in {args.csv} but not in "
                           f"{args.val_csv}")
    _check_finite_features(frame, numeric, args.val_csv)
    y = (_labels(target) == class_names[1]).to_numpy(dtype=int)
    s = _labels(frame[args.sensitive]).rename(args.sensitive)
    train_groups, val_groups = set(s_train), set(s)
    if train_groups != val_groups:
        only_val = sorted(val_groups - train_groups)
        only_train = sorted(train_groups - val_groups)
        parts = []
        if only_val:
            parts.append(f"only in {args.val_csv}: {', '.join(only_val[:5])}")
        if only_train:
            parts.append(f"only in {args.csv}: {', '.join(only_train[:5])}")
        raise CLIError(f"sensitive column {args.sensitive!r} has different groups "
                       f"in --val-csv and --csv ({'; '.join(parts)}); both files "
                       "need the same group labels")
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
        shown = "; ".join(bad[:SHOWN_GROUPS]) + (
            f"; and {len(bad) - SHOWN_GROUPS} more" if len(bad) > SHOWN_GROUPS
            else "")
        n_groups = problem.s_val.nunique()
        suspect = (f"; with {n_groups} distinct values, is it a continuous or "
                   "ID-like column? Bin it or pass another --sensitive"
                   if n_groups > MANY_GROUPS else "")
        raise CLIError(f"too few validation rows per group of {problem.sensitive!r}: "
                       f"{shown}; FairIF needs {need} to measure the groups' "
                       f"rates ({where}){suspect}")


def _split_names(text):
    """Comma-separated column names as a list (empty for None or "")."""
    return [] if not text else [c.strip() for c in text.split(",") if c.strip()]
