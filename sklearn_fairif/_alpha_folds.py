"""The folds and the extra influence columns of ``alpha="auto"``.

Folds are stratified on group x label; :class:`Columns` and
:class:`MarginColumns` are the constraint-like objects (``values`` and
``grad_margins`` of the margins) whose influence the one influence pass
computes next to the estimator's constraints: the per-(rate, group, fold)
cell rates and the margins of the tracked utility rows.
"""

import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from ._objectives import OBJECTIVES
from .utils._warnings import external_stacklevel

# Rows of the validation set each rate averages over (as in _objectives).
_RATE_ROWS = {
    "tpr": lambda y: y == 1,
    "tnr": lambda y: y == 0,
    "accuracy": lambda y: np.ones(len(y), dtype=bool),
    "selection_rate": lambda y: np.ones(len(y), dtype=bool),
}


class Columns:
    """Constraint-like column blocks side by side (what the influence needs).

    The influence computation only calls ``values(z)`` and ``grad_margins(z)``
    (see :func:`~sklearn_fairif.influence.constraint_gradients`); this
    concatenates them over ``blocks``, each a :class:`FairnessConstraints` or a
    :class:`MarginColumns`.
    """

    def __init__(self, *blocks):
        self.blocks = blocks
        self.names = [n for b in blocks for n in b.names]

    @property
    def n_constraints(self):
        """Total number of columns."""
        return sum(b.n_constraints for b in self.blocks)

    def values(self, z):
        """Column values at margins ``z``."""
        return np.concatenate([b.values(z) for b in self.blocks])

    def grad_margins(self, z):
        """Jacobian of the columns with respect to ``z``, shape (m, k)."""
        return np.hstack([b.grad_margins(z) for b in self.blocks])


class Combined:
    """Fixed linear combinations of a constraint block's columns.

    ``values(z) = block.values(z) @ M`` and likewise ``grad_margins``: the
    folds' train-side constraints as combinations of the (rate, group, fold)
    cells, solved for directly when the held-out side needs no cell influence.

    Parameters
    ----------
    block : FairnessConstraints
        The cells.
    M : ndarray of shape (block.n_constraints, n_columns)
        The combinations.
    names : list of str
        One per column.
    """

    def __init__(self, block, M, names):
        self.block, self.M, self.names = block, M, list(names)

    @property
    def n_constraints(self):
        """Number of columns."""
        return self.M.shape[1]

    def values(self, z):
        """Return the combinations' values at margins ``z``."""
        return self.block.values(z) @ self.M

    def grad_margins(self, z):
        """Return their Jacobian with respect to ``z``, shape (m, n_columns)."""
        return self.block.grad_margins(z) @ self.M


class MarginColumns:
    """The margins ``z_j`` of some validation rows, as constraint columns.

    Their influence is the derivative of each margin with respect to each
    training weight; the held-out accuracy is then counted exactly at the
    predicted margins. (A ``FairnessConstraints`` column per row would also
    do, through a sigmoid at a large temperature, but costs O(m) per column
    to build and evaluate rather than O(1).)

    Parameters
    ----------
    rows : ndarray of int
        The tracked validation rows.
    m : int
        Number of validation rows.
    """

    def __init__(self, rows, m):
        self.rows, self.m = np.asarray(rows), m
        self.names = [f"margin[{j}]" for j in self.rows]

    @property
    def n_constraints(self):
        """Number of columns (tracked rows)."""
        return len(self.rows)

    def values(self, z):
        """Return the tracked rows' margins."""
        return np.asarray(z, dtype=float)[self.rows]

    def grad_margins(self, z):
        """Return the indicator Jacobian: column ``j`` is 1 on ``rows[j]``."""
        G = np.zeros((self.m, len(self.rows)))
        G[self.rows, np.arange(len(self.rows))] = 1.0
        return G


def _utility_rows(folds, max_rows, random_state, margins=None):
    """All validation rows, or ``max_rows`` of them spread evenly over folds.

    With ``margins`` (the stage-1 margins), each fold keeps its rows closest to
    the decision boundary: only those can flip under a moderate weight change,
    so the accuracy change is counted on them (the others are taken not to
    flip). Without, a random subset.
    """
    m = len(folds)
    if m <= max_rows:
        return np.arange(m)
    rng = np.random.default_rng(_seed(random_state))
    keep = []
    K = folds.max() + 1
    for k in range(K):
        rows = np.flatnonzero(folds == k)
        size = min(len(rows), max(1, max_rows // K))
        if margins is None:
            keep.append(rng.choice(rows, size=size, replace=False))
        else:
            keep.append(rows[np.argsort(np.abs(margins[rows]))[:size]])
    return np.sort(np.concatenate(keep))


def _seed(random_state):
    """Return an int seed; None gives a fixed one, so that ``fit`` is repeatable.

    Like scikit-learn's cross-validated estimators (``LogisticRegressionCV``),
    the folds do not change from fit to fit unless asked to.
    """
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def make_folds(objective, y_val, s_val, *, n_folds=5, random_state=None):
    """Stratified folds in which every cell the objective needs has rows.

    Parameters
    ----------
    objective : str
        A key of :data:`~sklearn_fairif._objectives.OBJECTIVES`.
    y_val : ndarray of shape (m,) or None
        Validation labels in {0, 1} (None for demographic parity).
    s_val : ndarray of shape (m,)
        Validation groups.
    n_folds : int, default=5
        Folds wanted; fewer are used (with a warning) when a (rate, group) cell
        has fewer rows than that.
    random_state : int, RandomState instance or None, default=None
        Shuffles the rows before splitting; None gives the same folds at
        every call (as ``LogisticRegressionCV``'s), not random ones.

    Returns
    -------
    folds : ndarray of shape (m,) or None
        The fold of each row, or None (with a warning) when not even two folds
        can each hold a row of every cell.
    """
    s_val = np.asarray(s_val)
    groups, s_codes = np.unique(s_val, return_inverse=True)
    y = np.zeros(len(s_val), dtype=int) if y_val is None else np.asarray(y_val)
    strata = s_codes * 2 + y.astype(int)
    cells = [_RATE_ROWS[rate](y) & (s_codes == g)
             for rate in OBJECTIVES[objective] for g in range(len(groups))]
    smallest = min(int(cell.sum()) for cell in cells)
    # A cell can be a whole group (accuracy, selection rate) while the strata
    # are group x label: StratifiedKFold refuses more folds than its largest
    # stratum has rows.
    stratum_sizes = np.bincount(strata)
    for k in range(min(n_folds, smallest, int(stratum_sizes.max())), 1, -1):
        # StratifiedKFold warns when a stratum has fewer than k rows (it is
        # then spread unevenly), so the cells are checked afterwards either
        # way.
        splitter = StratifiedKFold(k, shuffle=True,
                                   random_state=_seed(random_state))
        folds = np.empty(len(s_val), dtype=int)
        with warnings.catch_warnings():
            # Only where it would warn: a filter set here slows every
            # warning raised (and ignored) inside the split, 0.3 ms a fit.
            if stratum_sizes[stratum_sizes > 0].min() < k:
                warnings.simplefilter("ignore", UserWarning)
            for f, (_, held) in enumerate(splitter.split(s_val, strata)):
                folds[held] = f
        if all(np.all(np.bincount(folds[cell], minlength=k) > 0) for cell in cells):
            if k < n_folds:
                warnings.warn(
                    f"alpha='auto': the validation cells are small (the "
                    f"smallest the objective needs has {smallest} rows), so {k} "
                    f"folds are used instead of {n_folds}.", UserWarning,
                    stacklevel=external_stacklevel(),
                )
            return folds
    warnings.warn(
        f"alpha='auto' needs every group x label cell of the validation set in "
        f"each of at least two folds, but the smallest has {smallest} row(s); "
        "falling back to the default alpha. Use a larger validation set or pass "
        "alpha explicitly.", UserWarning, stacklevel=external_stacklevel(),
    )
    return None
