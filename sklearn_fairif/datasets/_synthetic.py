"""A synthetic two-group, two-class benchmark with a chosen kind of bias."""

import numbers

import numpy as np
from sklearn.utils import check_scalar

from ..utils._arrays import check_random_state_param

# Share of the rows in each cell, indexed [s][y]: the three bias types of the
# FairIF paper (its Table 7), and a balanced reference.
_CELL_SHARES = {
    None: ((0.25, 0.25), (0.25, 0.25)),
    # Group 0 is a 15% minority; each group is balanced between the classes.
    "group_size": ((0.075, 0.075), (0.425, 0.425)),
    # 85% of class 0 is in group 0 and 85% of class 1 in group 1.
    "distribution_shift": ((0.425, 0.075), (0.075, 0.425)),
    # Class 1 is a quarter of class 0 (20% of the rows) in both groups.
    "class_size": ((0.4, 0.1), (0.4, 0.1)),
}


def _cell_counts(n_samples, bias):
    """Split `n_samples` over the (s, y) cells exactly, by largest remainder.

    Returns the counts of the cells (0, 0), (0, 1), (1, 0), (1, 1).
    """
    exact = np.ravel(_CELL_SHARES[bias]) * n_samples
    counts = np.floor(exact).astype(np.int64)
    # Ties go to the first cells, so the counts never depend on randomness.
    largest = np.argsort(counts - exact, kind="stable")
    counts[largest[: n_samples - counts.sum()]] += 1
    return counts


def _decision_directions(angle):
    """Return the unit decision directions of groups 0 and 1 (features 0, 1).

    They lie at +-angle/2 from feature 0, so that feature 0 predicts the label
    in both groups while feature 1 does so with opposite signs.
    """
    half = np.deg2rad(angle) / 2
    return np.array([[np.cos(half), np.sin(half)], [np.cos(half), -np.sin(half)]])


def _check_number(value, name, kind, **bounds):
    """check_scalar, plus: no booleans, and no NaN or infinity."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a number, got the boolean {value!r}.")
    check_scalar(value, name, kind, **bounds)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")


def _validate_params(n_samples, bias, n_features, class_sep, group_sep, angle, scale):
    """Raise an informative error for any invalid parameter."""
    if not (bias is None or isinstance(bias, str)) or bias not in _CELL_SHARES:
        raise ValueError(f"bias should be one of {list(_CELL_SHARES)}, got {bias!r}.")
    _check_number(n_samples, "n_samples", numbers.Integral, min_val=1)
    _check_number(n_features, "n_features", numbers.Integral, min_val=3)
    _check_number(class_sep, "class_sep", numbers.Real, min_val=0)
    _check_number(group_sep, "group_sep", numbers.Real, min_val=0)
    _check_number(angle, "angle", numbers.Real, min_val=0, max_val=180)
    _check_number(
        scale, "group_scale", numbers.Real, min_val=0, include_boundaries="neither"
    )


def make_biased_classification(
    n_samples=1000,
    *,
    bias="group_size",
    n_features=10,
    class_sep=2.5,
    group_sep=1.5,
    angle=45.0,
    group_scale=0.3,
    random_state=None,
):
    """Generate a two-group binary classification problem with a chosen bias.

    A benchmark on which empirical risk minimisation is unfair to group 0 in a
    way that reweighting the training data can repair. The two groups have
    different optimal decision boundaries, and `bias` sets how the rows are
    spread over the four label x group cells, following the three bias types
    of the FairIF paper (its Table 7):

    ========================  ==========  ==========  ==========  ==========
    `bias`                    s=0, y=0    s=0, y=1    s=1, y=0    s=1, y=1
    ========================  ==========  ==========  ==========  ==========
    ``"group_size"``          7.5%        7.5%        42.5%       42.5%
    ``"distribution_shift"``  42.5%       7.5%        7.5%        42.5%
    ``"class_size"``          40%         10%         40%         10%
    ``None``                  25%         25%         25%         25%
    ========================  ==========  ==========  ==========  ==========

    The cell counts are exact (rounded by largest remainder); the rows come in
    random order.

    Parameters
    ----------
    n_samples : int, default=1000
        The number of rows.

    bias : {"group_size", "distribution_shift", "class_size"} or None, \
            default="group_size"
        How the rows are spread over the cells (see the table above):

        - ``"group_size"``: group 0 is a 15% minority. A model fit mostly on
          group 1 follows group 1's decision boundary, which misclassifies more
          of group 0 in both classes.
        - ``"distribution_shift"``: the label is correlated with the group
          (85% of class 0 in group 0, 85% of class 1 in group 1). Since the
          group shows through feature 2, the model uses it as a proxy of the
          label and favours group 1 in both classes.
        - ``"class_size"``: class 1 is a quarter of class 0 in both groups. The
          decision threshold moves towards class 1, which costs group 0 more
          true positives because its scores are compressed near the boundary
          (`group_scale`).
        - None: balanced cells; empirical risk minimisation is nearly fair.

    n_features : int, default=10
        The number of features, at least 3: features 0 and 1 carry the label,
        feature 2 the group, and the others are noise.

    class_sep : float, default=2.5
        The distance between the two class means of each group along its
        decision direction, in units of the noise's standard deviation (for
        group 0, before the compression by `group_scale`). The larger, the
        easier the problem.

    group_sep : float, default=1.5
        The distance between the two group means along feature 2, in units of
        the noise's standard deviation: the larger, the more predictable the
        group from the features. 0 hides the group.

    angle : float, default=45.0
        The angle in degrees, in [0, 180], between the two groups' decision
        directions in the plane of features 0 and 1. 0 gives both groups the
        same boundary.

    group_scale : float, default=0.3
        How much group 0 is compressed along its decision direction: its
        coordinate along that direction, class offset and noise alike, is
        multiplied by `group_scale`, which leaves its separability unchanged but
        packs its rows close to its boundary. 1 makes the groups alike up to
        the rotation.

    random_state : int, RandomState instance or None, default=None
        Determines the random order of the rows and the noise. Pass an int for
        reproducible output across multiple function calls.
        See :term:`Glossary <random_state>`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The features, of dtype float64. The group is not a column of X.

    y : ndarray of shape (n_samples,)
        The labels, 0 or 1, of dtype int64.

    s : ndarray of shape (n_samples,)
        The sensitive attribute, 0 or 1, of dtype int64. Group 0 is the
        disadvantaged one.

    See Also
    --------
    train_val_test_split : Split X, y and s into train, validation and test sets.
    sklearn.datasets.make_classification : A generator without groups.

    Notes
    -----
    Every row starts as standard normal noise in `n_features` dimensions.
    Group g has a unit decision direction u_g in the plane of features 0 and 1,
    at +-`angle`/2 from feature 0. A row of class y is shifted by
    ``(y - 1/2) * class_sep`` along its group's direction; for group 0, its
    coordinate along u_0 is then multiplied by `group_scale`. Feature 2 is
    shifted by ``(s - 1/2) * group_sep``.

    With balanced classes, the Bayes-optimal boundary of each group is the
    hyperplane through the origin orthogonal to u_g, and both groups are
    equally separable, but no single linear boundary is optimal for both. How
    the training rows are spread over the cells decides which group a fitted
    boundary favours: with balanced cells (``bias=None``) empirical risk
    minimisation is nearly fair, and giving each cell the same total weight
    removes most of the unfairness that each bias type causes.

    With the defaults, 5000 rows and the 60/20/20 split of
    :func:`train_val_test_split`, a
    :class:`~sklearn.linear_model.LogisticRegression` fit on the training set
    has an average odds difference on the test set of about 0.19 for
    ``"group_size"`` and ``"distribution_shift"``, 0.17 for ``"class_size"``
    and 0.03 for None (mostly the sampling noise of 1000 test rows).
    Weighting each cell of the training set inversely to its size brings the
    three to about 0.04.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fairif.datasets import make_biased_classification
    >>> X, y, s = make_biased_classification(1000, bias="group_size", random_state=0)
    >>> X.shape
    (1000, 10)
    >>> np.bincount(2 * s + y).tolist()
    [75, 75, 425, 425]
    >>> X, y, s = make_biased_classification(1000, bias="class_size", random_state=0)
    >>> np.bincount(2 * s + y).tolist()
    [400, 100, 400, 100]
    """
    _validate_params(
        n_samples, bias, n_features, class_sep, group_sep, angle, group_scale
    )
    rng = check_random_state_param(random_state)

    counts = _cell_counts(n_samples, bias)
    order = rng.permutation(n_samples)
    s = np.repeat(np.array([0, 0, 1, 1]), counts)[order]
    y = np.repeat(np.array([0, 1, 0, 1]), counts)[order]

    X = rng.standard_normal(size=(n_samples, n_features))
    u = _decision_directions(angle)[s]
    noise_along_u = np.einsum("ij,ij->i", X[:, :2], u)
    scale = np.where(s == 0, group_scale, 1.0)
    along_u = scale * (noise_along_u + (y - 0.5) * class_sep)
    # Replace each row's coordinate along its group's direction.
    X[:, :2] += (along_u - noise_along_u)[:, None] * u
    X[:, 2] += (s - 0.5) * group_sep
    return X, y, s
