"""Array checks shared by the estimators, the metrics and the command line.

Finite values, non-negative sample weights, positive parameter values, seeds: each
raises one clear error naming the argument.
"""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from ._validation import _describe_values, _py


def check_finite(a, name, hint=None):
    """Raise a ValueError naming ``name`` if ``a`` holds NaN or infinite values.

    Parameters
    ----------
    a : array-like, sparse matrix or pandas DataFrame
        Numeric data; non-numeric DataFrame columns are skipped.
    name : str
        Name of the argument (or the quantity, e.g. ``"influence_"``).
    hint : str, default=None
        The likely cause or the remedy, appended to the message.

    Returns
    -------
    a : the input, unchanged.

    Raises
    ------
    ValueError
        ``"{name} contains k NaN and j infinite value(s) ..."``; for a DataFrame
        the first offending column is named.
    """
    if isinstance(a, pd.DataFrame):
        for column in a.columns:
            values = a[column]
            if pd.api.types.is_numeric_dtype(values) and not \
                    pd.api.types.is_bool_dtype(values):
                _raise_if_not_finite(values.to_numpy(dtype=float, na_value=np.nan),
                                     f"{name} column {column!r}", hint)
        return a
    values = a.data if hasattr(a, "tocsr") and hasattr(a, "data") else a
    array = np.asarray(values)
    if array.dtype.kind in "biu" or array.dtype == bool:
        return a
    if array.dtype.kind not in "fc":
        try:
            array = array.astype(float)
        except (TypeError, ValueError):
            return a  # not numeric: other checks name the problem
    _raise_if_not_finite(array, name, hint)
    return a


def _raise_if_not_finite(array, name, hint):
    nan = np.isnan(array)
    inf = np.isinf(array)
    n_nan, n_inf = int(nan.sum()), int(inf.sum())
    if n_nan or n_inf:
        parts = [f"{n_nan} NaN"] * (n_nan > 0) + [f"{n_inf} infinite"] * (n_inf > 0)
        first = np.argwhere(nan | inf)[0]
        where = "row " + str(first[0]) if array.ndim >= 1 else "the value"
        message = (f"{name} contains {' and '.join(parts)} value(s) (the first in "
                   f"{where}).")
        if hint:
            message += f" {hint}"
        raise ValueError(message)


def check_sample_weight_nonneg(sample_weight, n_samples, name="sample_weight"):
    """Validate user sample weights: 1-D, finite, >= 0, not all zero.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        The weights; None means unit weights.
    n_samples : int
        Expected length.
    name : str, default="sample_weight"
        Name of the argument, used in error messages.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) of float64, or None

    Raises
    ------
    ValueError
        Wrong shape or length, non-numeric, NaN or infinite, negative, or all
        zero weights.
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold numbers, got {sample_weight!r:.60}.") \
            from None
    if w.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {w.shape}.")
    if w.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {w.shape[0]} entries but the data has {n_samples} samples."
        )
    check_finite(w, name)
    negative = np.flatnonzero(w < 0)
    if negative.size:
        raise ValueError(
            f"{name} must be non-negative; {negative.size} weight(s) are negative, "
            f"the first {w[negative[0]]:g} at position {negative[0]}."
        )
    if n_samples and not w.any():
        raise ValueError(f"{name} is zero for every sample; at least one must be "
                         f"positive.")
    return w


def check_positive_values(values, name, *, allow_zero=False):
    """Check a scalar or a flat list of numbers element-wise: finite and > 0.

    Parameters
    ----------
    values : float or sequence of float
        One value or a non-empty 1-D list of values (e.g. an ``alpha`` grid).
    name : str
        Name of the parameter, used in error messages.
    allow_zero : bool, default=False
        Accept 0.

    Returns
    -------
    values : ndarray of shape (n_values,) of float64

    Raises
    ------
    TypeError
        A non-number (a string, a nested list).
    ValueError
        An empty list, NaN, infinity, or a value <= 0 (< 0 with ``allow_zero``).
    """
    scalar = np.ndim(values) == 0
    items = [values] if scalar else list(values)
    if not items:
        raise ValueError(f"{name} is an empty list; pass at least one value.")
    bad_type = [v for v in items if isinstance(v, bool)
                or not isinstance(v, int | float | np.integer | np.floating)]
    if bad_type:
        raise TypeError(
            f"{name} must be a number or a flat list of numbers, got "
            f"{bad_type[0]!r} ({type(bad_type[0]).__name__})."
        )
    array = np.asarray(items, dtype=float)
    bound = "a finite number >= 0" if allow_zero else "a finite number > 0"
    bad = ~np.isfinite(array) | ((array < 0) if allow_zero else (array <= 0))
    if bad.any():
        raise ValueError(
            f"every value of {name} must be {bound}, got "
            f"{_describe_values(array[bad].tolist())}."
        )
    return array


def check_group_weights(sample_weight, groups, name="sample_weight"):
    """Refuse weights that are zero on every sample of some group.

    Such a group has no weighted rate: one metric would silently drop it from
    the comparison while another divides by zero. Say so instead.

    Parameters
    ----------
    sample_weight : ndarray of shape (n_samples,) or None
        Validated non-negative weights.
    groups : ndarray of shape (n_samples,)
        Group label of each sample.
    name : str, default="sample_weight"
        Name of the argument, used in the message.

    Raises
    ------
    ValueError
        Naming the first such group.
    """
    if sample_weight is None:
        return
    for group in pd.unique(groups):
        if not np.any(sample_weight[groups == group]):
            raise ValueError(
                f"{name} is zero for every sample of group {_py(group)!r}, so its "
                f"rates are undefined; give some of its samples a positive weight "
                f"or leave the group out."
            )


def check_random_state_param(random_state, name="random_state"):
    """``check_random_state``, with the argument's name in its error."""
    try:
        return check_random_state(random_state)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{name} must be None, an int in [0, 2**32 - 1] or a "
            f"RandomState instance, got {random_state!r} ({exc})."
        ) from None
