"""One train / validation / test split convention for benchmarks and examples."""

import math
import numbers

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils import (
    _safe_indexing,
    column_or_1d,
    indexable,
)
from sklearn.utils.validation import _num_samples

from ..utils._arrays import check_random_state_param
from ..utils._validation import _check_raw_label_types

_STRATIFY_OPTIONS = ("label_group", "label", "group", None)
# train_test_split needs two rows of a stratum to put one on each side.
_MIN_PER_STRATUM = 2


def _n_rows(size, n_samples, name):
    """Turn a fraction or a count of rows into a count of rows.

    Fractions are rounded up, as :func:`~sklearn.model_selection.train_test_split`
    rounds its test fraction.
    """
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        if not 0 < size < n_samples:
            raise ValueError(
                f"{name}={size} should be a positive count of rows smaller than "
                f"the number of samples ({n_samples})."
            )
        return int(size)
    if isinstance(size, numbers.Real) and not isinstance(size, bool):
        if not 0.0 < size < 1.0:
            raise ValueError(f"{name}={size} should be a fraction in (0, 1).")
        return math.ceil(size * n_samples)
    raise TypeError(f"{name} should be an int or a float, got {size!r}.")


def _codes(values, name):
    """Integer codes of labels; refuse missing and mixed-type labels by name."""
    values = column_or_1d(values)
    _check_raw_label_types(values, name)
    missing = np.flatnonzero(pd.isna(values))
    if missing.size:
        raise ValueError(
            f"{name} contains {missing.size} missing value(s) (NaN or None), the "
            f"first at position {missing[0]}; drop those rows or fill them."
        )
    return np.unique(values, return_inverse=True)


def _strata(y, s, stratify):
    """Return one integer stratum per row, or None for no stratification."""
    # np.unique codes make any label or group values (strings included) work.
    labels, y_codes = _codes(y, "y")
    groups, s_codes = _codes(s, "s")
    if stratify is None:
        return None
    if stratify == "label":
        strata = y_codes
    elif stratify == "group":
        strata = s_codes
    else:
        strata = y_codes * len(groups) + s_codes
    _check_strata(strata, labels, groups, y_codes, s_codes, stratify)
    return strata


def _check_strata(strata, labels, groups, y_codes, s_codes, stratify):
    """Name the stratum too small to split (sklearn blames "classes in y")."""
    counts = np.bincount(strata)
    small = np.flatnonzero((counts > 0) & (counts < _MIN_PER_STRATUM))
    if not small.size:
        return
    first = np.flatnonzero(strata == small[0])[0]
    cell = {
        "label": f"label y={_py(labels[y_codes[first]])!r}",
        "group": f"group s={_py(groups[s_codes[first]])!r}",
        "label_group": f"cell y={_py(labels[y_codes[first]])!r}, "
                       f"s={_py(groups[s_codes[first]])!r}",
    }[stratify]
    raise ValueError(
        f"stratify={stratify!r} needs at least {_MIN_PER_STRATUM} rows in every "
        f"stratum, but the {cell} has {counts[small[0]]} row(s) ({small.size} "
        f"stratum/strata too small). Merge rare groups in s, or pass "
        f"stratify='label' or stratify=None."
    )


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def _split(indices, n_rows, rng, strata, part):
    try:
        return train_test_split(indices, test_size=n_rows, random_state=rng,
                                stratify=strata)
    except ValueError as exc:
        if strata is None:
            raise
        raise ValueError(
            f"cannot stratify the {part} split: {exc} (each stratum of "
            f"stratify needs at least {_MIN_PER_STRATUM} rows left for this split; "
            f"pass a coarser stratify, e.g. 'label', or None)."
        ) from None


def train_val_test_split(
    X,
    y,
    s,
    *,
    val_size=0.2,
    test_size=0.2,
    stratify="label_group",
    random_state=None,
):
    """Split data, labels and groups into train, validation and test sets.

    Benchmarks and examples of this package share this convention: 60% of the
    rows for training, 20% for validation (the rows where FairIF reads the
    sensitive attribute) and 20% for testing, with each label x group cell keeping
    its share of the rows in every part. The split is two successive calls of
    :func:`~sklearn.model_selection.train_test_split`: one takes the test set,
    the next divides the rest into training and validation sets.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data. Lists, NumPy arrays, pandas DataFrames and SciPy sparse
        matrices are split alike; pandas objects keep their index.

    y : array-like of shape (n_samples,)
        The labels.

    s : array-like of shape (n_samples,)
        The sensitive attribute (group labels).

    val_size : float or int, default=0.2
        The validation set: a fraction of all the rows (rounded up) if a float
        in (0, 1), a number of rows if an int.

    test_size : float or int, default=0.2
        The test set: a fraction of all the rows (rounded up) if a float in
        (0, 1), a number of rows if an int. The training set gets the remaining
        rows.

    stratify : {"label_group", "label", "group"} or None, default="label_group"
        What the split preserves the proportions of: the cells of label x group,
        the labels only, the groups only, or nothing (a plain random split).
        Stratifying needs at least two rows in each stratum.

    random_state : int, RandomState instance or None, default=None
        Controls the shuffling. Pass an int for reproducible output across
        multiple function calls. See :term:`Glossary <random_state>`.

    Returns
    -------
    splitting : list of length 9
        ``[X_train, X_val, X_test, y_train, y_val, y_test, s_train, s_val,
        s_test]``: each input split in turn, as
        :func:`~sklearn.model_selection.train_test_split` orders its output.
        Each part has the type of its input.

    See Also
    --------
    sklearn.model_selection.train_test_split : Split arrays in two.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fairif.datasets import train_val_test_split
    >>> X = np.arange(200).reshape(100, 2)
    >>> y = np.tile([0, 1], 50)
    >>> s = np.repeat([0, 1], [20, 80])
    >>> X_train, X_val, X_test, y_train, y_val, y_test, s_train, s_val, s_test = (
    ...     train_val_test_split(X, y, s, random_state=0)
    ... )
    >>> len(X_train), len(X_val), len(X_test)
    (60, 20, 20)
    >>> int(s_val.sum()), int(s_test.sum())
    (16, 16)
    """
    if not (stratify is None or isinstance(stratify, str)) or \
            stratify not in _STRATIFY_OPTIONS:
        raise ValueError(
            f"stratify should be one of {_STRATIFY_OPTIONS}, got {stratify!r}."
        )
    lengths = [_num_samples(a) for a in (X, y, s)]
    if len(set(lengths)) > 1:
        raise ValueError(
            f"X, y and s must have the same number of rows, got {lengths[0]}, "
            f"{lengths[1]} and {lengths[2]}."
        )
    n_samples = len(y)
    if n_samples < 3:
        raise ValueError(
            f"X, y and s have {n_samples} row(s); a train / validation / test "
            f"split needs at least 3."
        )
    X, y, s = indexable(X, y, s)
    n_val = _n_rows(val_size, n_samples, "val_size")
    n_test = _n_rows(test_size, n_samples, "test_size")
    if n_val + n_test >= n_samples:
        raise ValueError(
            f"The validation ({n_val} rows) and test ({n_test} rows) sets leave "
            f"no row of the {n_samples} samples for training."
        )

    # Splitting positions, not the arrays, lets both calls stratify on the same
    # strata whatever the types of X, y and s.
    rng = check_random_state_param(random_state)
    strata = _strata(y, s, stratify)
    rest, test = _split(np.arange(n_samples), n_test, rng, strata, "test")
    train, val = _split(rest, n_val, rng, None if strata is None else strata[rest],
                        "validation")
    return [
        _safe_indexing(array, indices)
        for array in (X, y, s)
        for indices in (train, val, test)
    ]
