"""Choosing ``alpha`` by cross-fitting on the validation set, without refits.

FairIF fits its weights to the validation gaps, so judging ``alpha`` on those
same gaps is in-sample: every alpha then looks fair. Here the validation set is
split into K folds (stratified on group x label); for each fold the weights are
solved against the constraints of the *other* folds and judged on the held-out
fold through the first-order predictions the influence already gives,
``g_ho + A_ho^T (w - 1)``. No model is refitted per candidate.

One influence pass serves everything. Every fairness quantity the selection
needs is a linear combination of per-cell soft rates: the soft rate of each
(rate, group, fold) cell. A constraint on a set of folds is a count-weighted
mean of its cells, so its value and its influence are the same linear
combination of the cells' values and influences. The plan's ``constraints``
hold these cells (a :class:`FairnessConstraints` with ``contrast="per_group"``)
and the margins of the utility rows (below), or, when every validation margin
is predicted through a :class:`MarginShift`, only each fold's train-side
constraints (the held-out gaps then follow from the predicted margins: half
the columns of an iterative solve). :meth:`CrossFitPlan.stack` puts them after
the estimator's own constraints, so that the estimator computes the influence
once (one iHVP solve with the extra right-hand sides) and hands the extra
columns to :meth:`CrossFitPlan.select`.

Utility proxy. A first-order prediction of a held-out *smooth* utility (soft
accuracy, log-loss) is close to zero for every alpha: the unweighted model sits
at the optimum of the training loss, so the utility's change is second order,
and the linear term is noise (measured: Pearson of predicted vs refitted
held-out accuracy change near 0; the prototype with log-loss chose alphas that
cost COMPAS 7 accuracy points while the predicted loss *fell*). What does
carry the loss of accuracy is the nonlinearity of the 0/1 loss: rows crossing
the decision boundary. So the held-out accuracy is computed exactly at the
predicted margins ``z + A_z^T (w - 1)``: first order in the weights, no refit,
nonlinear in the margins. With an exact solve and the adapter's transposed
hooks, a :class:`MarginShift` predicts every validation row's margin from the
parameter shift of a weight change (``J_val H^-1 G^T (w - 1)``); otherwise the
plan holds one influence column per tracked row (``max_utility_rows`` of them,
a random subset).

Cost. Each fold's solution is ``w - 1 = -B x + c`` (``_weights.LowRankChange``):
``B = [n A_train, 1]`` has k + 1 columns and ``c`` is non-zero only on the
rows clipped at weight 0 (a small fraction at the alphas that get chosen). So the
held-out gaps and margins of every alpha are (k + 1)-vector combinations of
what ``B`` does to them, computed once per fold (for the margins, one data
pass over all folds' bases, or a few within ``UTILITY_BUDGET``), plus one
sparse pass per batch of alphas over the clipped rows. The scan forms no
length-n vector. See ``benchmarks/results/select_alpha.md`` for the
measurements.
"""

from typing import NamedTuple

import numpy as np
from scipy import sparse

from ._alpha_folds import (
    _RATE_ROWS,
    Columns,
    Combined,
    MarginColumns,
    _seed,
    _utility_rows,
    make_folds,
)
from ._objectives import OBJECTIVES, FairnessConstraints
from ._weights import WeightPath
from .adapters._protocol import held_rows

# The continuous search: a dense log grid (each point one batched weight solve
# for all folds), wide enough to hold every alpha the benchmarks chose.
DEFAULT_ALPHAS = np.logspace(-4, 1, 16)
DEFAULT_ALPHAS.setflags(write=False)

# max_utility_rows="auto": the n x u block of margin influences stays under
# UTILITY_BUDGET entries (16 MB), with at least MIN_UTILITY_ROWS rows (the
# margins' pass over the folds' bases keeps its blocks under it too); fewer
# rows make the held-out accuracy coarse (one flip in a fold of 60 tracked
# rows is 1.7 points) and the choice noisy.
UTILITY_BUDGET = 2_000_000
MIN_UTILITY_ROWS = 300

# Dual-gradient tolerance of the selection's weight solves (gap units): far
# below any gap difference the choice could turn on (the benchmarks' least
# mean held-out gap is 0.013, so a 1% tie is 1e-4; at 1e-5 the predicted
# gaps move by 2e-6 from those at 1e-9, and a scan's last Newton step, often
# for a few of its problems only, is saved).
SELECTION_TOL = 1e-5

# Accuracies are multiples of 1 / n_val: a drop of exactly tol, computed in
# floating point, must still keep the budget.
TOL_SLACK = 1e-12

# The scan, from the largest alpha down, ends once the least admissible mean
# held-out gap, having fallen at least once, has not fallen for PLATEAU_STEPS
# candidates in a row (a decade of DEFAULT_ALPHAS: the weights have
# saturated, and the tie-break below keeps the larger alpha of a plateau);
# with no admissible candidate yet, or a gap that has only risen from the
# first (weights still moving), it goes on. A heuristic: a smaller alpha past
# a plateau can still score lower.
# In benchmarks/select_alpha.py it ended class_size's scans after 11
# candidates on average rather than 15 and changed no choice of 105 against
# the full scan (German, whose 200 validation rows at tol=0.02 are worth 4,
# scans every candidate: EARLY_END_ROWS). An earlier second stop, after two
# candidates in a row predicted to lose more than 2 tol, saved under half a
# candidate a scan there but, with 24-row folds (one flipped row: 4 points),
# ended scans before the gains of the smaller alphas.
PLATEAU_STEPS = 3

# The scan ends early only where the accuracy budget is worth at least this
# many validation rows (tol * n_val): below, a row or two that flip decide
# which candidates are admissible, and a candidate past such a dip can still
# be the one chosen. On synthetic sets of 50-120 validation rows (tol=0.01)
# the plateau changed 1 choice in 23 against the full scan, and none from 200
# rows on (nor at tol=0.002 from 400).
EARLY_END_ROWS = 5

# Admissible candidates whose mean held-out gap is within this fraction of
# the least one count as tied, and the largest alpha among them is chosen.
GAP_TIE_RTOL = 0.01

# Alphas solved together and whose margin changes share one transposed data
# pass (a pass over the training set for a network): (fewest, most). Small
# problems take the most, so long as alphas x n_samples x n_folds stays under
# SCAN_BUDGET (one batch's dual margins): there each batch's fixed cost
# dominates (8 took class_size's 6,000-row selection from 6.3 to 5.4 ms,
# German's from 2.1 to 1.5); on Adult the work wasted past the scan's early
# stop did (8 took 1.6 times as long as 4). Where each column of the margins'
# shift is a solve of its own (conjugate gradients over a network's
# column-by-column Hessian products), its columns are the cost: one alpha per
# batch (the COMPAS MLP's selection 0.58 s, against 0.77 with 4 and 0.82 with
# 8). A linear model's CG multiplies all columns in one data pass: there
# batches keep the budget's size (Adult's selection 0.9 s, against 1.4 s
# with one alpha per batch). This sizes the first batch; the later ones, in
# which the scan may end, take half as many, no fewer than the fewest (8
# then 4 on the synthetic sets: 3.44 ms a selection against 3.61 with 8
# then 8, 3.79 with 4 throughout).
ALPHAS_PER_PASS = (4, 8)
SCAN_BUDGET = 160_000


class AlphaSelection(NamedTuple):
    """The outcome of :meth:`CrossFitPlan.select`.

    Attributes
    ----------
    alpha : float
        The chosen alpha.
    cv_results : dict of ndarray
        One entry per candidate alpha: ``"alpha"``, ``"heldout_gap"`` (mean over
        folds of the mean absolute predicted held-out gap), ``"heldout_gap_std"``
        (its spread over folds), ``"heldout_utility_change"`` (mean over folds of
        the predicted change of the held-out accuracy, counted at the predicted
        margins; NaN without labels),
        ``"heldout_utility_change_std"``, ``"weight_change"`` (mean over folds
        of ``mean((w - 1)**2)``) and ``"admissible"`` (bool).
    """

    alpha: float
    cv_results: dict


class CrossFitPlan:
    """Folds of the validation set and the cell constraints that score them.

    Build with :func:`make_crossfit_plan`. Attributes: ``constraints`` (the
    columns to stack next to the estimator's own: the cells, then one margin
    column per utility row; with ``margin_columns=False`` each fold's
    train-side constraints), ``cells`` (the cells' constraints), ``folds``
    (the fold of every validation row), ``n_folds``, ``objective``,
    ``utility_rows`` (indices of the validation rows whose margins are
    tracked; empty without labels).
    """

    def __init__(self, objective, y_val, s_val, folds, *, temperature,
                 surrogate, random_state, max_utility_rows,
                 max_weight_change, margins=None, margin_columns=True):
        self.objective = objective
        self.folds = folds
        self.n_folds = int(folds.max()) + 1
        self.max_weight_change = max_weight_change
        self.groups = np.unique(s_val)
        G, K = len(self.groups), self.n_folds
        s_codes = np.searchsorted(self.groups, s_val)
        cell_codes = s_codes * K + folds  # one code per (group, fold)
        cells = FairnessConstraints(
            objective, y_val, cell_codes, temperature=temperature,
            surrogate=surrogate, random_state=random_state, contrast="per_group",
        )
        y = np.zeros(len(folds)) if y_val is None else np.asarray(y_val)
        # counts[r, g, f]: rows of the cell of rate r, group g, fold f.
        rates = OBJECTIVES[objective]
        self.counts = np.zeros((len(rates), G, K))
        for r, rate in enumerate(rates):
            rows = _RATE_ROWS[rate](y)
            self.counts[r] = np.bincount(
                cell_codes[rows], minlength=G * K
            ).reshape(G, K)
        self.cells, self.n_cells = cells, cells.n_constraints
        self.M_train, self.M_heldout = self.fold_matrices()
        self.has_utility = y_val is not None
        # Through a MarginShift every validation row's margin is predicted,
        # so the held-out gaps come from the margins (their first-order
        # change is the held-out influence's): the columns are then only
        # the folds' train-side constraints, K k of them instead of the
        # cells', which halves an iterative solve.
        self.margin_columns = margin_columns
        if margin_columns:
            members = [cells]
        else:
            k = self.M_train.shape[2]
            members = [Combined(cells, np.hstack(self.M_train), [
                f"fold {f}, train side, constraint {c}"
                for f in range(K) for c in range(k)])]
        self.utility_rows = np.array([], dtype=int)
        if self.has_utility:
            self.utility_rows = (
                _utility_rows(folds, max_utility_rows, random_state, margins)
                if margin_columns else np.arange(len(folds)))
            if margin_columns:
                members.append(MarginColumns(self.utility_rows, len(folds)))
            self.y_utility = np.asarray(y_val)[self.utility_rows]
            self.fold_utility = folds[self.utility_rows]
            self.fold_sizes = np.bincount(folds, minlength=K)
            self.near_boundary = margins is not None and len(
                self.utility_rows) < len(folds)
        self.constraints = Columns(*members)

    @property
    def n_columns(self):
        """Number of columns of :attr:`constraints`."""
        return self.constraints.n_constraints

    # ------------------------------------------------------- combinations
    def constraint_matrix(self, fold_set):
        """Cell-to-constraint combination for the rows of ``fold_set``.

        Parameters
        ----------
        fold_set : array-like of int
            The folds whose rows the constraints are measured on.

        Returns
        -------
        M : ndarray of shape (n_cells, n_constraints)
            ``cell_values @ M`` are the estimator's constraints (same order
            and contrasts as ``FairnessConstraints(objective, ...)``) built on
            the rows of ``fold_set`` alone; likewise for the influences.
        """
        on = np.isin(np.arange(self.n_folds), np.asarray(fold_set))
        return _combinations(self.counts, on[None])[0]

    def margins(self, influence, values, margin_influence=None):
        """Margins and their influence for the utility rows.

        Parameters
        ----------
        influence : ndarray of shape (n_samples, n_columns)
            The plan's columns.
        values : ndarray of shape (n_columns,)
        margin_influence : MarginShift, default=None
            The margins' predictor, for a plan without margin columns
            (``margin_columns=False``).

        Returns
        -------
        z : ndarray of shape (n_utility_rows,)
            Stage-1 margins of the utility rows.
        A_z : ndarray of shape (n_samples, n_utility_rows) or MarginShift
            Derivative of each margin with respect to each training weight
            (or what gives its products ``D.T @ A_z``).
        """
        if not self.margin_columns:
            return margin_influence.z[self.utility_rows], margin_influence
        u = slice(self.n_cells, self.n_cells + len(self.utility_rows))
        return values[u], influence[:, u]

    def stack(self, constraints):
        """Return ``constraints`` followed by the plan's columns.

        Parameters
        ----------
        constraints : FairnessConstraints
            The estimator's constraints (built on the same validation rows).

        Returns
        -------
        stacked : Columns
            ``values`` and ``grad_margins`` of ``constraints`` then of
            :attr:`constraints`: pass it to the influence computation, then
            split the columns at ``constraints.n_constraints``.
        """
        if constraints.V.shape[0] != len(self.folds):
            raise ValueError(
                f"constraints are on {constraints.V.shape[0]} validation rows, "
                f"the plan on {len(self.folds)}."
            )
        return Columns(constraints, *self.constraints.blocks)

    # ------------------------------------------------------------ select
    def select(self, influence, values, *, margin_influence=None, alphas=None,
               tol=0.01):
        """Choose alpha from the influence on the plan's columns.

        Parameters
        ----------
        influence : ndarray of shape (n_samples, n_columns)
            Influence on :attr:`constraints`' columns at the stage-1 model.
        values : ndarray of shape (n_columns,)
            Their values at the stage-1 model.
        margin_influence : MarginShift, default=None
            Required by a plan without margin columns: predicts the held-out
            margins (see :meth:`margins`).
        alphas : array-like of float, default=None
            Candidates, :data:`DEFAULT_ALPHAS` (1e-4 to 10, 16 log-spaced
            values) when None.
        tol : float, default=0.01
            Largest admissible drop of the predicted held-out accuracy (counted
            at the predicted margins).

        Returns
        -------
        selection : AlphaSelection
        """
        influence = np.asarray(influence, dtype=float)
        values = np.asarray(values, dtype=float)
        if influence.ndim != 2 or influence.shape[1] != self.n_columns:
            raise ValueError(
                f"influence should have {self.n_columns} columns (the plan's), "
                f"got shape {influence.shape}."
            )
        if self.margin_columns == (margin_influence is not None):
            raise ValueError("margin_influence is needed exactly when the plan "
                             "has no margin columns (margin_columns=False).")
        if values.shape != (self.n_columns,):
            raise ValueError(
                f"values should have shape ({self.n_columns},), got {values.shape}."
            )
        alphas = DEFAULT_ALPHAS if alphas is None else np.sort(
            np.asarray(alphas, dtype=float))
        if alphas.size == 0 or np.any(alphas <= 0):
            raise ValueError("alphas should be a non-empty list of positive floats.")
        gap, util, change = self.predict_heldout(
            influence, values, alphas, tol=tol, margin_influence=margin_influence)
        scanned = np.isfinite(change).all(axis=0)
        if not (np.isfinite(gap[:, scanned]).all()
                and not np.isinf(util[:, scanned]).any()):
            raise ValueError(
                "alpha='auto': the held-out predictions are not finite (the "
                "validation margins or their predicted changes overflow: "
                "features of extreme magnitude in X_val?). Scale the features "
                "or pass alpha explicitly.")
        return choose_alpha(alphas, gap, util, change, tol=tol,
                            max_weight_change=self.max_weight_change)

    def fold_matrices(self):
        """Return every fold's ``(M_train, M_heldout)`` cell combinations.

        :meth:`constraint_matrix` of the other folds and of the fold itself,
        stacked: two arrays of shape (n_folds, n_cells, n_constraints).
        """
        held = np.eye(self.n_folds, dtype=bool)
        M = _combinations(self.counts, np.concatenate([~held, held]))
        return M[: self.n_folds], M[self.n_folds:]

    def fold_problems(self, influence, values, margin_influence=None):
        """Yield, per fold, the train-side and held-out linearised constraints.

        Yields ``(A_train, g_train, A_heldout, g_heldout, z, y)`` (the last
        two None without labels): the estimator's constraints on the other
        folds' rows and on the fold's own rows (each as the plan's cell
        combination, :meth:`fold_matrices`), and the held-out utility rows'
        margins and labels. Without margin columns the plan holds no cell
        influence: ``A_heldout`` is then None and ``g_heldout`` comes from
        ``margin_influence``'s margins.
        """
        A_train, g_train = self._train_side(influence, values)
        if self.margin_columns:
            g_cells = values[: self.n_cells]
            A_ho = np.einsum("nc,kcq->knq", influence[:, : self.n_cells],
                             self.M_heldout)
        else:
            g_cells = self.cells.values(margin_influence.z)
            A_ho = [None] * self.n_folds
        if self.has_utility:
            z_all = self.margins(influence, values, margin_influence)[0]
        for k in range(self.n_folds):
            z = y = None
            if self.has_utility:
                held = self.fold_utility == k
                z, y = z_all[held], self.y_utility[held]
            yield (A_train[:, k], g_train[k], A_ho[k],
                   g_cells @ self.M_heldout[k], z, y)

    def _train_side(self, influence, values):
        """Every fold's train-side influence (n, K, k) and values (K, k)."""
        K = self.n_folds
        if not self.margin_columns:  # the columns themselves
            return (influence.reshape(len(influence), K, -1),
                    values.reshape(K, -1))
        A_cells, g_cells = influence[:, : self.n_cells], values[: self.n_cells]
        M = np.hstack(self.M_train)
        return ((A_cells @ M).reshape(len(A_cells), K, -1),
                (g_cells @ M).reshape(K, -1))

    def predict_heldout(self, influence, values, alphas, *, tol=None,
                        margin_influence=None):
        """First-order held-out predictions along ``alphas``, per fold.

        Parameters
        ----------
        influence, values, margin_influence : see :meth:`select`
        alphas : ndarray of shape (n_alphas,)
            Increasing candidates; scanned from the largest down.
        tol : float, default=None
            The selection's accuracy budget: the scan then ends after a
            plateau of the least admissible gap (see :data:`PLATEAU_STEPS`
            and :data:`EARLY_END_ROWS`); the rest are NaN. None scans every
            alpha.

        Returns
        -------
        gap, utility_change, weight_change : ndarray of shape (n_folds, n_alphas)
            Mean absolute predicted held-out gap, predicted change of the
            held-out accuracy (at the predicted margins; NaN without labels)
            and ``mean((w-1)**2)``.
        """
        K, n_a = self.n_folds, len(alphas)
        gap, change = np.full((K, n_a), np.nan), np.full((K, n_a), np.nan)
        util = np.full((K, n_a), np.nan)
        # The folds' weight problems, solved together and warm-started along
        # the scan: (n, K, k) viewed as K problems. Each solution is
        # w - 1 = -B x + c (c on the few clipped rows), so every held-out
        # quantity is a (k+1)-vector product with what B does to it, formed
        # once here (_HeldOut).
        A_train, g_train = self._train_side(influence, values)
        path = WeightPath(A_train.transpose(1, 0, 2), g_train)
        heldout = _HeldOut(self, A_train, influence, values, margin_influence)
        end = _ScanEnd(tol) if self._may_end_early(tol) else None
        per_pass = _alphas_per_pass(len(A_train), K, margin_influence)
        for chunk in _chunks(range(n_a - 1, -1, -1), per_pass):
            points = path.solve_low_rank(alphas[chunk], tol=SELECTION_TOL)
            gap[:, chunk], accuracy = heldout.evaluate(points)
            change[:, chunk] = points.mean_sq
            if accuracy is not None:
                util[:, chunk] = accuracy
            if end is None:
                continue
            for i, j in enumerate(chunk):
                if end.reached(gap[:, j].mean(), util[:, j].mean()):
                    # The scan ends here: what the chunk computed past it
                    # is dropped, so the result does not depend on the chunk.
                    rest = chunk[i + 1:]
                    gap[:, rest] = util[:, rest] = change[:, rest] = np.nan
                    return gap, util, change
        return gap, util, change

    def _may_end_early(self, tol):
        """Whether the scan may end at a plateau (see EARLY_END_ROWS)."""
        if tol is None:
            return False
        if not self.has_utility:  # no accuracy decides admissibility
            return True
        # The rows one flip is counted against: the validation set's, or the
        # random subset's when only a subset is tracked.
        rows = len(self.folds) if self.near_boundary else len(self.utility_rows)
        return tol * rows >= EARLY_END_ROWS


class _ScanEnd:
    """Where the scan from the largest alpha down ends (see PLATEAU_STEPS).

    Fed each candidate's mean held-out gap and accuracy change in scan order
    (NaN accuracy: no labels, every candidate admissible).
    """

    def __init__(self, tol):
        self.tol, self.stale, self.best, self.fell = tol, 0, np.inf, False

    def reached(self, gap, utility):
        """Record the next candidate; True when the scan can end after it."""
        admissible = np.isnan(utility) or _keeps(utility, 0.0, self.tol)
        if admissible and gap < self.best:
            self.fell |= self.best < np.inf
            self.best, self.stale = gap, 0
        else:
            self.stale += 1
        return self.fell and self.stale >= PLATEAU_STEPS


class _HeldOut:
    """What each fold's weight change does to its held-out rows.

    Built once per scan. Fold k's ``B = [n A_train[:, k], 1]``; the tracked
    margins' move along every fold's ``B`` comes from one margins' pass over
    all folds' columns (or a few passes on large data). The held-out gaps
    come from the cells' influence when the plan's columns hold it (each
    fold's ``B.T @ A_ho`` through the cells' Gram matrix), else from the
    predicted margins of every validation row: a cell's first-order change
    is its gradient in the margins dotted with their change, which is what
    its influence column would give. :meth:`evaluate` then scores a batch of
    alphas' :class:`~sklearn_fairif._weights.LowRankChange` at once.
    """

    def __init__(self, plan, A_train, influence, values, margin_influence):
        self.K, self.plan = plan.n_folds, plan
        self.M_ho = plan.M_heldout  # (K, cells, c)
        self.from_cells = plan.margin_columns
        if self.from_cells:
            self._cells_basis(influence[:, : plan.n_cells],
                              values[: plan.n_cells])
        self.tracks = plan.has_utility or not self.from_cells
        if self.tracks:
            z, A_z = (plan.margins(influence, values, margin_influence)
                      if plan.has_utility
                      else (margin_influence.z, margin_influence))
            self._track_margins(A_train, z, A_z)

    def _cells_basis(self, A_cells, g_cells):
        """Set each fold's held-out gaps and their move along its ``B``, from cells."""
        n = len(A_cells)
        self.A_cells = A_cells
        self.g_ho = g_cells @ self.M_ho  # (K, c)
        cells_gram = A_cells.T @ A_cells
        self.basis_ho = np.concatenate([  # (K, k + 1, c)
            n * np.einsum("fdq,de,fec->fqc", self.plan.M_train, cells_gram,
                          self.M_ho),
            (A_cells.sum(axis=0) @ self.M_ho)[:, None]], axis=1)

    def _track_margins(self, A_train, z, A_z):
        """Track the margins' move along their fold's ``B``, with their labels."""
        plan, (n, _, k) = self.plan, A_train.shape
        self.margins = _as_margin_shift(z, A_z)
        rows = plan.utility_rows if plan.has_utility else np.arange(len(z))
        self.z, self.fold = z, plan.folds[rows]
        self.rows = np.arange(len(rows))
        # Each tracked row moves along its own fold's basis: (u, k + 1).
        moved = self._margins_along(A_train.reshape(n, -1))
        own = self.fold[:, None] * k + np.arange(k)  # its fold's columns
        self.row_basis = np.column_stack([n * moved[own, self.rows[:, None]],
                                          moved[-1]])
        self.in_fold = np.eye(self.K)[self.fold]  # (u, K)
        if not self.from_cells:
            # Held-out gap c of fold f moves by sum_j dz_j q[j, (f, c)], q the
            # cells' gradient combined by every fold's M_ho: (u, K c). A row's
            # gradient is zero off its own cells, so q is zero off its fold.
            self.g_ho = plan.cells.values(z) @ self.M_ho
            self.q = plan.cells.grad_margins(z) @ np.hstack(self.M_ho)
        if plan.has_utility:
            self.sign = 2.0 * plan.y_utility - 1.0
            self.correct = (self.sign * z > 0).astype(float)
            # A random subset estimates the fold's accuracy change; rows
            # tracked for their closeness to the boundary count against the
            # whole fold (the others are taken not to flip).
            self.per_fold = (plan.fold_sizes if plan.near_boundary
                             else self.in_fold.sum(axis=0))

    def _margins_along(self, columns):
        """``D.T @ A_z`` for ``D = [columns, 1]``: (n_columns + 1, u).

        As many columns per margins' pass as keep the n x columns block
        under UTILITY_BUDGET entries.
        """
        n, width = columns.shape
        moved = np.empty((width + 1, len(self.rows)))
        per_pass = max(1, UTILITY_BUDGET // n)
        for first in range(0, width + 1, per_pass):
            D = np.ones((n, min(per_pass, width + 1 - first)))
            block = columns[:, first:first + D.shape[1]]  # D's last column: 1
            D[:, : block.shape[1]] = block
            moved[first:first + D.shape[1]] = self.margins.rmatmat(D)
        return moved

    def evaluate(self, points):
        """Predicted held-out gaps and accuracy changes, each (n_folds, n_alphas).

        The gap: mean absolute predicted held-out gap. The accuracy change is
        counted at the predicted margins (None without labels).
        """
        moves = self._margin_moves(points) if self.tracks else None
        gaps = (self._gaps_from_cells(points) if self.from_cells
                else self._gaps_from_margins(moves))
        if not self.plan.has_utility:
            return gaps.T, None
        return gaps.T, self._accuracy_changes(moves).T

    def _gaps_from_cells(self, points):
        """Mean absolute predicted held-out gap, (n_alphas, n_folds)."""
        X = points.x.transpose(1, 0, 2)  # (a, K, k + 1)
        # c's part, through the cells of its few rows: each fold's columns,
        # its own M_ho.
        rows, c = held_rows(points.clipped)
        cells = (c.T @ self.A_cells[rows]).reshape(len(X), self.K, -1)
        moved = (np.einsum("akn,knc->akc", cells, self.M_ho)
                 - np.einsum("akq,kqc->akc", X, self.basis_ho))
        return np.mean(np.abs(self.g_ho + moved), axis=2)

    def _gaps_from_margins(self, moves):
        """Return the same from every validation row's predicted margin change."""
        moved = (moves @ self.q).reshape(len(moves), self.K, -1)
        return np.mean(np.abs(self.g_ho + moved), axis=2)

    def _margin_moves(self, points):
        """Predicted change of every tracked margin, (n_alphas, u).

        ``c``'s move less ``x @ (B's move)``, each row under its own fold's
        weights; one sparse pass moves every ``c`` of the batch (none when
        no weight is clipped).
        """
        clipped = points.clipped
        a, K, u = points.x.shape[1], self.K, len(self.rows)
        moved = (self.margins.rmatmat(clipped) if clipped.nnz
                 else np.zeros((a * K, u)))
        moved = moved.reshape(a, K, u)[:, self.fold, self.rows]  # own fold's
        X = points.x.transpose(1, 0, 2)[:, self.fold]  # (a, u, k + 1)
        return moved - np.einsum("auq,uq->au", X, self.row_basis)

    def _accuracy_changes(self, moves):
        """Predicted held-out accuracy change, (n_alphas, n_folds)."""
        flips = ((self.sign * (self.z + moves) > 0) - self.correct) @ self.in_fold
        return flips / self.per_fold


def _alphas_per_pass(n_samples, n_folds, margin_influence):
    """Alphas the scan solves together: (first batch, later ones).

    See ALPHAS_PER_PASS. The scan can end in any batch but the first (its
    alphas are the largest), so the later ones are half as large, down to
    the fewest: less work past the end.
    """
    if getattr(margin_influence, "per_column", False):
        return 1, 1
    first = int(np.clip(SCAN_BUDGET // (n_samples * n_folds), *ALPHAS_PER_PASS))
    return first, max(ALPHAS_PER_PASS[0], first // 2)


def _chunks(values, sizes):
    """Consecutive lists of ``values``: ``sizes[0]`` items, then ``sizes[1]`` each."""
    values, first, rest = list(values), *sizes
    return [values[:first]] + [values[i:i + rest]
                               for i in range(first, len(values), rest)]


def _combinations(counts, on):
    """Cell-to-constraint combinations of several fold sets (pure).

    ``counts[r, g, f]``: rows of the (rate, group, fold) cell; ``on`` (S, K):
    each fold set's folds. Returns (S, n_cells, n_constraints), cells in
    (rate, group, fold) order, constraints as ``FairnessConstraints``
    orders them: per rate, the two groups' difference, or with more groups
    each group's rate less the overall one.
    """
    n_rates, G, K = counts.shape
    n = counts[None] * on[:, None, None, :]  # (S, rate, group, fold)
    # A group's rate on a fold set: the mean of its cells, weighted by their
    # row counts (a rate is a mean over rows, never a sum).
    per_group = n / n.sum(axis=3, keepdims=True)
    rate, group = np.eye(n_rates), np.eye(G)
    # rate_of[s, r, g] is group g's rate r as weights on the cells.
    rate_of = np.einsum("ab,cd,sbdf->sacbdf", rate, group, per_group)
    if G == 2:
        columns = rate_of[:, :, 0] - rate_of[:, :, 1]  # (S, r, cells...)
    else:
        overall = np.einsum("ab,sbdf->sabdf", rate,
                            n / n.sum(axis=(2, 3), keepdims=True))
        columns = rate_of - overall[:, :, None]  # (S, r, g, cells...)
    S = len(on)
    return columns.reshape(S, -1, n_rates * G * K).transpose(0, 2, 1)


def _as_margin_shift(z, A_z):
    """Return the margins' predictor: ``A_z`` itself, or a MarginShift of it."""
    if isinstance(A_z, MarginShift):
        return A_z
    return MarginShift(z, lambda D: (D.T @ A_z).T)


class MarginShift:
    """Validation margins under weight changes, predicted to first order.

    ``z`` are the stage-1 margins; ``shift(D)`` returns their change for the
    training-weight changes ``D`` (n, b), shape (m, b): the margins' JVP along
    the parameter shift of :func:`~sklearn_fairif.influence.parameter_shift`.
    It stands for the n × m margin influence ``A_z`` through its products
    (:meth:`rmatmat`), so every validation row is tracked at the cost of one
    data pass per batch of weight changes (of the rows a sparse batch holds).
    ``per_column=True`` says that each column of ``D`` costs ``shift`` a
    solve of its own: the scan then solves one alpha per batch.
    """

    def __init__(self, z, shift, *, per_column=False):
        self.z, self._shift = np.asarray(z, dtype=float), shift
        self.per_column = per_column

    def rmatmat(self, D):
        """Return ``D.T @ A_z``, shape (b, m); ``D`` may be SciPy sparse."""
        if not sparse.issparse(D):
            D = np.asarray(D, dtype=float)
        return np.asarray(self._shift(D)).T


def _keeps(accuracy, acc_before, tol):
    """Whether ``accuracy`` fell from ``acc_before`` by at most ``tol`` (pure)."""
    return accuracy >= acc_before - tol - TOL_SLACK


def choose_alpha(alphas, gap, utility_change, weight_change, *, tol,
                 max_weight_change=None):
    """Apply the selection rule to per-fold predictions (pure).

    Parameters
    ----------
    alphas : ndarray of shape (n_alphas,)
    gap, utility_change, weight_change : ndarray of shape (n_folds, n_alphas)
        Predicted held-out gap (mean absolute), predicted change of held-out
        utility (NaN when unavailable) and ``mean((w - 1)**2)`` per fold.
    tol : float
        Largest admissible mean drop of the utility.
    max_weight_change : float or None
        Trust region: largest admissible mean ``mean((w - 1)**2)``.

    Returns
    -------
    selection : AlphaSelection
        The alpha of least mean held-out gap among the admissible ones (ties,
        within :data:`GAP_TIE_RTOL` of it, go to the larger alpha, the smaller
        weight change); the largest alpha when none is admissible.
    """
    mean_gap, mean_util = gap.mean(axis=0), utility_change.mean(axis=0)
    mean_change = weight_change.mean(axis=0)
    admissible = np.isfinite(mean_gap)  # NaN: not scanned
    if not np.all(np.isnan(mean_util)):
        admissible &= _keeps(mean_util, 0.0, tol)
    if max_weight_change is not None:
        admissible &= mean_change <= max_weight_change
    if admissible.any():
        # Among near-ties prefer the larger alpha: less reweighting. Where
        # the weights saturate the gap barely moves over decades of alpha.
        best_gap = mean_gap[admissible].min()
        near = mean_gap <= best_gap * (1.0 + GAP_TIE_RTOL) + 1e-12
        chosen = np.flatnonzero(admissible & near)[-1]
    else:
        chosen = len(alphas) - 1
    cv_results = {
        # A copy: the caller's array (DEFAULT_ALPHAS itself, by default) must
        # not be reachable through a fitted estimator's results.
        "alpha": np.array(alphas, dtype=float),
        "heldout_gap": mean_gap,
        "heldout_gap_std": gap.std(axis=0),
        "heldout_utility_change": mean_util,
        "heldout_utility_change_std": utility_change.std(axis=0),
        "weight_change": mean_change,
        "admissible": admissible,
    }
    return AlphaSelection(float(alphas[chosen]), cv_results)


def first_within_budget(n_candidates, within_budget, max_tries):
    """Search for the first candidate that keeps the accuracy budget (pure).

    The candidates lie above a choice whose refit broke the budget, so the
    first that keeps it is usually near: candidates 0, 1, 3, 7, ... are tried
    until one keeps it (each gap twice the last), except that the last try
    goes to the largest candidate, so that a budget kept only far above is
    still found; then the interval below the first that keeps it is
    bisected with the tries left.

    Parameters
    ----------
    n_candidates : int
        Candidates ``0 .. n_candidates - 1``, in increasing alpha. A larger
        alpha reweights less, so the budget is taken to hold from some
        candidate on.
    within_budget : callable
        ``within_budget(i)`` refits candidate ``i`` and says whether its
        validation accuracy kept the budget; called at most ``max_tries``
        times, never twice on one candidate.
    max_tries : int
        Most refits.

    Returns
    -------
    first : int or None
        The smallest candidate found within budget, or None when every one
        tried broke it.
    """
    failed, passed, tries = -1, None, 0
    while passed is None and failed < n_candidates - 1 and tries < max_tries:
        # 1, 2, 4, 8, ... steps above the choice: 0, 1, 3, 7, ...
        candidate = min(max(0, 2 * failed + 1), n_candidates - 1)
        if tries == max_tries - 1:
            candidate = n_candidates - 1
        tries += 1
        if within_budget(candidate):
            passed = candidate
        else:
            failed = candidate
    while passed is not None and passed - failed > 1 and tries < max_tries:
        middle = (failed + passed) // 2
        tries += 1
        if within_budget(middle):
            passed = middle
        else:
            failed = middle
    return passed


def make_crossfit_plan(objective, y_val, s_val, *, n_folds=5, random_state=None,
                       temperature=1.0, surrogate="softmax",
                       max_utility_rows="auto", n_samples=None,
                       max_weight_change=None, margins=None,
                       margin_columns=True):
    """Build the folds and the cell constraints that ``alpha="auto"`` needs.

    Parameters
    ----------
    objective : str
        The estimator's fairness objective.
    y_val : ndarray of shape (m,) or None
        Validation labels in {0, 1}.
    s_val : ndarray of shape (m,)
        Validation groups (two or more).
    n_folds : int, default=5
        Number of cross-fitting folds (fewer when a cell is too small).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the subset of utility rows (None: a fixed seed,
        so that refitting gives the same folds).
    temperature : float, default=1.0
        Temperature of the fairness cells: the estimator's.
    surrogate : {"softmax", "gumbel"}, default="softmax"
        The estimator's surrogate.
    max_utility_rows : int or "auto", default="auto"
        Validation rows whose margins are tracked for the held-out accuracy
        (a random subset, evenly spread over the folds, when there are more):
        one influence column each, i.e. an ``n_samples x max_utility_rows``
        block of the influence matrix. ``"auto"``: as many as keep that block
        under :data:`UTILITY_BUDGET` entries, at least
        :data:`MIN_UTILITY_ROWS` (all rows when ``n_samples`` is None).
    n_samples : int, default=None
        Training-set size, for ``max_utility_rows="auto"``.
    max_weight_change : float or None, default=None
        Trust region on ``mean((w - 1)**2)``; None for none.
    margins : ndarray of shape (m,), default=None
        Stage-1 validation margins. When the validation set has more than
        ``max_utility_rows`` rows, the tracked rows are then those closest to
        the decision boundary (else a random subset). Not the default: on
        COMPAS the rows near the boundary flip both ways and under-count the
        accuracy lost further away (it chose alpha=1e-4 at -9 points).
    margin_columns : bool, default=True
        Track the utility rows' margins as influence columns. False: every
        validation row is tracked, :meth:`CrossFitPlan.select` needs a
        :class:`MarginShift` (``max_utility_rows`` and ``margins`` are then
        unused), and the columns are the folds' train-side constraints
        (``n_folds`` times the objective's constraints) instead of the
        cells.

    Returns
    -------
    plan : CrossFitPlan or None
        None (after a warning) when the validation set is too small to hold
        every cell in two folds.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_fairif._alpha import make_crossfit_plan
    >>> rng = np.random.default_rng(0)
    >>> y, s = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    >>> plan = make_crossfit_plan("equalized_odds", y, s, random_state=0)
    >>> plan.n_folds, plan.n_columns  # 2 rates x 2 groups x 5 folds + 200 margins
    (5, 220)
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective should be one of {sorted(OBJECTIVES)}, "
                         f"got {objective!r}.")
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)) \
            or n_folds < 2:
        raise ValueError(f"n_folds should be an int >= 2, got {n_folds!r}.")
    random_state = _seed(random_state)  # one draw for folds and subset
    m = len(np.asarray(s_val))
    if max_utility_rows == "auto":
        max_utility_rows = m if n_samples is None else int(np.clip(
            UTILITY_BUDGET // max(int(n_samples), 1), MIN_UTILITY_ROWS, m))
    elif isinstance(max_utility_rows, bool) or not isinstance(
            max_utility_rows, (int, np.integer)) or max_utility_rows < 1:
        raise ValueError("max_utility_rows should be 'auto' or an int >= 1, got "
                         f"{max_utility_rows!r}.")
    folds = make_folds(objective, y_val, s_val, n_folds=n_folds,
                       random_state=random_state)
    if folds is None:
        return None
    return CrossFitPlan(
        objective, y_val, np.asarray(s_val), folds, temperature=temperature,
        surrogate=surrogate, random_state=random_state,
        max_utility_rows=max_utility_rows,
        max_weight_change=max_weight_change,
        margins=None if margins is None else np.asarray(margins, dtype=float),
        margin_columns=margin_columns,
    )
