"""One train / validation / test split convention for benchmarks and examples."""

import math
import numbers

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import (
    _safe_indexing,
    check_consistent_length,
    check_random_state,
    column_or_1d,
    indexable,
)

_STRATIFY_OPTIONS = ("label_group", "label", "group", None)


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


def _strata(y, s, stratify):
    """Return one integer stratum per row, or None for no stratification."""
    if stratify is None:
        return None
    # np.unique codes make any label or group values (strings included) work.
    y_codes = np.unique(column_or_1d(y), return_inverse=True)[1]
    groups, s_codes = np.unique(column_or_1d(s), return_inverse=True)
    if stratify == "label":
        return y_codes
    if stratify == "group":
        return s_codes
    return y_codes * len(groups) + s_codes


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
    if stratify not in _STRATIFY_OPTIONS:
        raise ValueError(
            f"stratify should be one of {_STRATIFY_OPTIONS}, got {stratify!r}."
        )
    X, y, s = indexable(X, y, s)
    check_consistent_length(X, y, s)
    n_samples = len(y)
    n_val = _n_rows(val_size, n_samples, "val_size")
    n_test = _n_rows(test_size, n_samples, "test_size")
    if n_val + n_test >= n_samples:
        raise ValueError(
            f"The validation ({n_val} rows) and test ({n_test} rows) sets leave "
            f"no row of the {n_samples} samples for training."
        )

    # Splitting positions, not the arrays, lets both calls stratify on the same
    # strata whatever the types of X, y and s.
    rng = check_random_state(random_state)
    strata = _strata(y, s, stratify)
    rest, test = train_test_split(
        np.arange(n_samples), test_size=n_test, random_state=rng, stratify=strata
    )
    train, val = train_test_split(
        rest,
        test_size=n_val,
        random_state=rng,
        stratify=None if strata is None else strata[rest],
    )
    return [
        _safe_indexing(array, indices)
        for array in (X, y, s)
        for indices in (train, val, test)
    ]
