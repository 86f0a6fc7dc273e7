"""Input checks shared by the fairness metrics and the FairIF estimator.

The estimator imports :func:`_check_sensitive_features` for the group labels of its
validation set, so the rules below (one label per sample, at least two groups, no
missing labels) are the same everywhere in the package.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from ._warnings import external_stacklevel

# Separator of the labels of intersectional groups built from several columns,
# e.g. ("female", "black") -> "female, black".
_INTERSECTION_SEP = ", "


def _py(label):
    """Return a NumPy scalar as a Python one, for readable error messages."""
    return label.item() if isinstance(label, np.generic) else label


def _check_sensitive_features(
    sensitive_features, n_samples=None, *, name="sensitive_features"
):
    """Validate group labels and return them as a 1-D array.

    Parameters
    ----------
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group label of each sample: a list, a NumPy array, a pandas Series or a
        pandas DataFrame. The labels are read by position; a pandas index is
        ignored. With several columns, every combination of values is one
        (intersectional) group, as in fairlearn; its label is the values joined
        with ``", "``, e.g. ``"female, black"``.
    n_samples : int, default=None
        Expected number of samples; ``None`` skips the length check.
    name : str, default="sensitive_features"
        Name of the argument, used in error messages.

    Returns
    -------
    groups : ndarray of shape (n_samples,)
        The group label of each sample, with the labels' own values (integers stay
        integers) for a single column.

    Raises
    ------
    ValueError
        If the length is not ``n_samples``, if a label is missing (NaN or None) or
        if there are fewer than two distinct groups.
    """
    if sensitive_features is None:
        raise ValueError(f"{name} is None; pass one group label per sample.")
    _check_raw_label_types(sensitive_features, name)
    groups = _as_label_array(sensitive_features, name)
    if n_samples is not None and groups.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {groups.shape[0]} entries but the data has {n_samples} "
            f"samples; pass exactly one group label per sample."
        )
    _check_no_missing(groups, name)
    _check_at_least_two_groups(groups, name)
    return groups


def _as_label_array(sensitive_features, name):
    """Turn any accepted container into a 1-D array of labels."""
    if isinstance(sensitive_features, pd.Series):
        return sensitive_features.to_numpy()
    if isinstance(sensitive_features, pd.DataFrame):
        n_columns = sensitive_features.shape[1]
        columns = [sensitive_features.iloc[:, j].to_numpy() for j in range(n_columns)]
    else:
        array = _to_numpy(sensitive_features)
        if array.ndim == 1:
            return array
        if array.ndim != 2:
            raise ValueError(
                f"{name} must be 1-D (one label per sample) or 2-D (one column per "
                f"sensitive attribute); got an array with {array.ndim} dimensions."
            )
        columns = [array[:, j] for j in range(array.shape[1])]
    if len(columns) == 0:
        raise ValueError(f"{name} has no columns.")
    if len(columns) == 1:
        return columns[0]
    return _intersect(columns, name)


def _to_numpy(values):
    if isinstance(values, np.ndarray):
        return values
    as_object = np.asarray(values, dtype=object)
    # NumPy would turn a NaN among strings into the string "nan", a group of its
    # own; keep such input as objects so the missing label is caught.
    if pd.isna(as_object).any():
        return as_object
    # Otherwise let NumPy infer the dtype, so integer labels stay integers.
    return np.asarray(values)


def _intersect(columns, name):
    """Label each sample with the combination of its values in all columns."""
    for column in columns:
        _check_no_missing(column, name)
    tuples = list(zip(*columns, strict=True))
    labels = np.array(
        [_INTERSECTION_SEP.join(map(str, values)) for values in tuples], dtype=object
    )
    # Joining could merge two different combinations, e.g. ("a, b", "c") and
    # ("a", "b, c"): refuse rather than silently pool them.
    if len(set(labels)) != len(set(tuples)):
        raise ValueError(
            f"The columns of {name} cannot be joined into unambiguous group labels "
            f"because some values contain {_INTERSECTION_SEP!r}; combine the columns "
            f"into a single column yourself."
        )
    return labels


def _check_no_missing(groups, name):
    missing = np.flatnonzero(pd.isna(groups))
    if missing.size:
        raise ValueError(
            f"{name} contains {missing.size} missing group label(s) (NaN or None), "
            f"the first at position {missing[0]}; drop those samples or give them a "
            f"group label."
        )


def _check_at_least_two_groups(groups, name):
    distinct = pd.unique(groups)
    if distinct.size < 2:
        found = (
            f"only one group ({_py(distinct[0])!r})" if distinct.size else "no samples"
        )
        raise ValueError(
            f"{name} must contain at least two distinct groups to compare, got {found}."
        )


# ---------------------------------------------------------------------------
# Shared checks of the input contract (issue 13): the estimators, the metrics,
# the datasets and the command line call these, so the same rule gives the same
# message everywhere. Each raises (or warns) naming the argument.

# Fewest validation rows of a (group, label) cell that a rate can be measured on
# without one row swinging it: with one positive in a group, its TPR is 0 or 1.
MIN_CELL_COUNT = 20

# Above this many distinct groups, ``s`` is probably a continuous or ID-like
# column: FairIF builds constraints per group, so their number grows with it.
MAX_GROUPS = 20


class FairIFDataWarning(UserWarning):
    """Data that makes a fairness measurement or the reweighting unreliable."""


def _describe_values(values, limit=5):
    shown = ", ".join(repr(_py(v)) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _check_one_kind_of_label(values, name):
    """Refuse a mix of strings and numbers, which NumPy cannot sort."""
    # Missing labels are reported by their own check, not as a "number".
    kinds = {isinstance(v, str | bytes) for v in values if not _is_missing(v)}
    if len(kinds) > 1:
        raise TypeError(
            f"{name} mixes strings and numbers ({_describe_values(values)}); use "
            f"one type for all labels, e.g. convert them with .astype(str)."
        )


def check_binary_target(y, name="y", *, allow_single_class=False):
    """Check that ``y`` holds the labels of a binary classification problem.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels: two distinct values of one type (numbers, booleans or
        strings). A column vector of shape (n_samples, 1) is accepted.
    name : str, default="y"
        Name of the argument, used in error messages.
    allow_single_class : bool, default=False
        Accept labels with only one class (metrics on a subset may need this;
        fitting a classifier does not).

    Returns
    -------
    y : ndarray of shape (n_samples,)
        The labels.
    classes : ndarray
        The sorted distinct labels (two, or one if ``allow_single_class``).

    Raises
    ------
    ValueError
        If ``y`` is empty, not 1-D, has missing labels, a single class (unless
        allowed), more than two classes, or continuous values.
    TypeError
        If ``y`` mixes strings and numbers.
    """
    _check_raw_label_types(y, name)
    y_array = _to_numpy(y) if not isinstance(y, pd.Series) else y.to_numpy()
    if y_array.ndim == 2 and y_array.shape[1] == 1:
        y_array = y_array.ravel()
    if y_array.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of class labels, got shape {y_array.shape}."
        )
    if y_array.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one label per sample.")
    _check_no_missing_labels(y_array, name)
    distinct = pd.unique(y_array)
    if y_array.dtype == object:
        _check_one_kind_of_label(distinct, name)
    if y_array.dtype.kind == "f" and not np.all(np.isfinite(y_array)):
        raise ValueError(f"{name} contains infinite values; pass class labels.")
    if distinct.size > 2 or (
        y_array.dtype.kind == "f" and not np.all(np.mod(distinct, 1) == 0)
    ):
        continuous = distinct.size > 2 and y_array.dtype.kind == "f"
        kind = "continuous values" if continuous else f"{distinct.size} distinct values"
        target_type = type_of_target(y_array, input_name=name)
        raise ValueError(
            f"{name} must hold binary class labels (two distinct values); got "
            f"target type {target_type!r} with {kind}: "
            f"[{_describe_values(distinct)}]."
        )
    if distinct.size == 1 and not allow_single_class:
        raise ValueError(
            f"{name} contains only one class ({_py(distinct[0])!r}); a binary "
            f"classifier needs samples of both classes."
        )
    try:
        classes = np.sort(distinct)
    except TypeError:  # e.g. bytes and str
        classes = np.array(sorted(distinct, key=str), dtype=object)
    return y_array, classes


def _is_missing(value):
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _check_raw_label_types(values, name):
    """Catch int/str mixes before NumPy turns every label into a string."""
    if isinstance(values, pd.DataFrame):
        for column in values.columns:
            _check_raw_label_types(values[column], name)
        return
    if isinstance(values, np.ndarray | pd.Series) and values.dtype != object:
        return
    try:
        as_object = np.asarray(values, dtype=object)
    except ValueError:  # ragged input: reported by the shape checks
        return
    if as_object.ndim == 2:
        for j in range(as_object.shape[1]):
            _check_one_kind_of_label(pd.unique(as_object[:, j]), name)
    elif as_object.ndim == 1:
        if any(isinstance(v, list | tuple | np.ndarray) for v in as_object):
            raise ValueError(
                f"{name} has rows of different lengths: pass one label per "
                "sample, or the same number of columns (attributes) in every row."
            )
        _check_one_kind_of_label(pd.unique(as_object), name)


def _check_no_missing_labels(y, name):
    if y.dtype.kind in "OfcU":
        missing = np.flatnonzero(pd.isna(y))
        if missing.size:
            raise ValueError(
                f"{name} contains {missing.size} missing label(s) (NaN or None), "
                f"the first at position {missing[0]}; drop those samples or label "
                f"them."
            )


def check_groups(s, n_samples=None, name="s_val", *, max_groups=MAX_GROUPS,
                 min_rows=2):
    """Check group labels for a fairness measurement; warn when they look wrong.

    On top of :func:`_check_sensitive_features` (length, no missing label, two or
    more groups), this refuses labels mixing strings and numbers, warns when the
    labels look continuous or ID-like (many groups, non-integer floats) and when a
    group has fewer than ``min_rows`` rows.

    Parameters
    ----------
    s : array-like of shape (n_samples,) or (n_samples, n_columns)
        Group labels.
    n_samples : int, default=None
        Expected number of samples; None skips the length check.
    name : str, default="s_val"
        Name of the argument, used in messages.
    max_groups : int, default=20
        More distinct groups than this triggers the "many groups" warning.
    min_rows : int, default=2
        Groups with fewer rows trigger a warning.

    Returns
    -------
    groups : ndarray of shape (n_samples,)
        The group label of each sample.

    Raises
    ------
    ValueError
        Wrong length, missing labels, empty, or a single group.
    TypeError
        Labels mixing strings and numbers.

    Warns
    -----
    FairIFDataWarning
        Many groups (a continuous or ID-like column?), or tiny groups.
    """
    _check_raw_label_types(s, name)
    groups = _as_label_array(s, name)
    if groups.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass one group label per sample.")
    groups = _check_sensitive_features(groups, n_samples, name=name)
    distinct, counts = _group_counts(groups, name)
    continuous = groups.dtype.kind == "f" and not np.all(np.mod(distinct, 1) == 0)
    if distinct.size > max_groups or continuous:
        what = "non-integer numbers" if continuous else "values"
        found = (f"has many groups: {distinct.size} distinct {what}"
                 if distinct.size > max_groups
                 else f"holds {what} ({distinct.size} distinct)")
        warnings.warn(
            f"{name} {found} in {groups.shape[0]} rows. Is it a continuous or "
            f"ID-like column? Every value is treated as a group: the fairness "
            f"constraints grow with the number of groups, and the weight "
            f"solves' cost with its square. Bin it into a few groups "
            f"(e.g. pandas.cut) or pass the intended column.",
            FairIFDataWarning,
            stacklevel=external_stacklevel(),
        )
    elif min_rows > 1:
        small = [(g, c) for g, c in zip(distinct, counts, strict=True) if c < min_rows]
        if small:
            shown = ", ".join(f"{_py(g)!r} ({c} row{'' if c == 1 else 's'})"
                              for g, c in small[:5])
            warnings.warn(
                f"{name} has {len(small)} group(s) with fewer than {min_rows} rows: "
                f"{shown}; their rates rest on too few rows to be measured. Merge "
                f"small groups or collect more rows.",
                FairIFDataWarning,
                stacklevel=external_stacklevel(),
            )
    return groups


def _group_counts(groups, name):
    if groups.dtype == object:
        _check_one_kind_of_label(pd.unique(groups), name)
    distinct, counts = np.unique(groups, return_counts=True)
    return distinct, counts


# Which validation rows each rate of an objective is measured on: TPR on the
# positives of a group, TNR (and FPR) on its negatives, the others on all rows.
_RATE_CELLS = {
    "tpr": (1,),
    "tnr": (0,),
    "fpr": (0,),
    "accuracy": (None,),
    "selection_rate": (None,),
}


def check_cells(objective_rates, y01, s, min_count=MIN_CELL_COUNT, name="s_val"):
    """Warn once per (group, label) cell the objective needs that has few rows.

    A TPR is measured on a group's positives and a TNR on its negatives, so what
    matters is the count of positives and negatives per group, not its rows: an
    intersectional group with a single positive swings its TPR constraint from
    one extreme to the other.

    Parameters
    ----------
    objective_rates : iterable of {"tpr", "tnr", "fpr", "accuracy", \
            "selection_rate"}
        The rates the objective compares between groups.
    y01 : array-like of shape (n_samples,) or None
        Validation labels encoded as 0/1 (None when no rate needs labels).
    s : array-like of shape (n_samples,)
        Validation group labels.
    min_count : int, default=20
        Cells with fewer rows than this get a warning.
    name : str, default="s_val"
        Name of the group argument, used in the messages.

    Returns
    -------
    small : list of (group, label, count)
        The cells that got a warning (``label`` is None for all rows).

    Raises
    ------
    ValueError
        When a cell has no row at all.

    Warns
    -----
    FairIFDataWarning
        One per small cell, naming the group, the label and the count.
    """
    rates = tuple(objective_rates)
    unknown = [r for r in rates if r not in _RATE_CELLS]
    if unknown:
        raise ValueError(
            f"objective_rates must be among {sorted(_RATE_CELLS)}, got {unknown}."
        )
    s = np.asarray(s)
    cells = list(dict.fromkeys(c for r in rates for c in _RATE_CELLS[r]))
    if y01 is None and any(c is not None for c in cells):
        raise ValueError("y01 is needed for rates measured per class (tpr, tnr).")
    y01 = None if y01 is None else np.asarray(y01)
    small = []
    for group in pd.unique(s):
        in_group = s == group
        for label in cells:
            rows = in_group if label is None else in_group & (y01 == label)
            count = int(rows.sum())
            what = ("rows" if label is None else
                    "positive (y=1) rows" if label == 1 else "negative (y=0) rows")
            if count == 0:
                # Before any fitting: the objective's rate is undefined there.
                raise ValueError(
                    f"Group {_py(group)!r} has no {what} in the validation set "
                    f"({name}, y_val), so a rate the objective compares is "
                    "undefined for it. Use a larger validation set or an "
                    "objective that does not need this rate."
                )
            if count < min_count:
                small.append((_py(group), label, count))
                warnings.warn(
                    f"{name} group {_py(group)!r} has {count} {what} in the "
                    f"validation set, fewer than {min_count}: the rate measured "
                    f"on them is noisy and the reweighting may chase that noise. "
                    f"Collect more validation rows of this group or merge groups.",
                    FairIFDataWarning,
                    stacklevel=external_stacklevel(),
                )
    return small
