"""Closed-form influence for binary logistic models (NumPy/SciPy only).

Parameters are ``theta = [coef, intercept]`` and the margin is
``z = x @ coef + intercept``. The mean training objective is

    L(theta) = (1/n) sum_i s_i * ell_i(theta) + (lam / 2) ||coef||^2
               + (lam_b / 2) intercept^2,

with ``ell_i`` the log loss and ``s_i`` the user's sample weight (times the class
weight). It is scikit-learn's objective divided by a constant, so it has the
same minimiser and, after the same division, the same Hessian:

* ``LogisticRegression``: ``C * sum_i s_i ell_i + 1/2 ||coef||^2`` gives
  ``lam = 1 / (C n)`` and, the intercept being unpenalised, ``lam_b = 0``; the
  liblinear solver penalises the intercept as a synthetic feature of value
  ``intercept_scaling``, giving ``lam_b = lam / intercept_scaling**2``.
* ``SGDClassifier(loss="log_loss")``: ``(1/n) sum_i s_i ell_i + alpha/2 ||coef||^2``
  gives ``lam = alpha``, ``lam_b = 0``.

X may be sparse: every product below is a sparse-dense product, so the n × d
design matrix is never densified.
"""

import copy

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot

from ._protocol import RowTasks, held_rows, row_blocks

# Above this many parameters a dense P × P Hessian costs more than CG needs.
MAX_EXACT_PARAMS = 2000

# Values (rows × columns) of X weighted at a time when building the Hessian:
# 8 MB of float64, whatever n.
_HESSIAN_BLOCK_VALUES = 2**20


class LinearAdapter:
    """Influence adapter for ``LogisticRegression`` and log-loss ``SGDClassifier``.

    Parameters
    ----------
    estimator : LogisticRegression or SGDClassifier
        A fitted binary model.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data it was fitted on.
    y : array-like of shape (n_samples,)
        The training labels.
    sample_weight : array-like of shape (n_samples,)
        The weights it was fitted with.
    """

    # A convex training objective: a refit may start from any solution.
    convex = True
    #: The influence pass is one product ``X @ U``; below this many
    #: multiply-adds (stored values of X times k, ~0.1 s on one core) it is
    #: not split into joblib blocks: on Adult (7e5) it takes 1-4 ms, which
    #: two threads made 8-21x slower and two processes 33-49x
    #: (benchmarks/results/influence_jobs.md).
    min_split_products = 10**8

    @staticmethod
    def supports(estimator):
        """Whether ``estimator`` belongs to this family."""
        return isinstance(estimator, (LogisticRegression, SGDClassifier))

    @staticmethod
    def check_estimator(estimator):
        """Raise ``ValueError`` for settings with no twice-differentiable loss."""
        if isinstance(estimator, SGDClassifier):
            if estimator.loss != "log_loss":
                raise ValueError(
                    "SGDClassifier needs loss='log_loss' for influence functions, "
                    f"got loss={estimator.loss!r} (not a smooth log-likelihood)."
                )
            l1 = estimator.penalty == "l1" or (
                estimator.penalty == "elasticnet" and estimator.l1_ratio > 0
            )
        else:
            l1 = _logistic_penalty(estimator)[0] in ("l1", "elasticnet")
        if l1:
            raise ValueError(
                f"{type(estimator).__name__} with an L1 penalty has no Hessian at "
                "its solution; use an L2 penalty or none for influence functions."
            )

    @staticmethod
    def margins(estimator, X):
        """Margins ``z`` of a fitted model on ``X`` (no training data needed)."""
        return np.asarray(estimator.decision_function(X), dtype=float).ravel()

    @staticmethod
    def fit(estimator, X, y, sample_weight, **fit_params):
        """Fit ``estimator`` (unfitted, not mutated) with ``sample_weight``."""
        from sklearn.base import clone

        return clone(estimator).fit(X, y, sample_weight=sample_weight, **fit_params)

    @staticmethod
    def warm_fit(fitted, X, y, sample_weight, **fit_params):
        """Refit a copy of ``fitted`` with new weights, from its solution.

        ``warm_start`` is switched on for this fit only (lbfgs, newton-cg,
        sag, saga and SGD start from the current coefficients; liblinear
        ignores it); ``fitted`` itself is not modified.
        """
        model = copy.deepcopy(fitted)
        original = model.get_params(deep=False)["warm_start"]
        model.set_params(warm_start=True)
        model.fit(X, y, sample_weight=sample_weight, **fit_params)
        return model.set_params(warm_start=original)

    @staticmethod
    def displaced(fitted, delta):
        """Return a copy of ``fitted`` with its parameters moved by ``delta``.

        ``delta`` is in the adapter's order, ``[coef, intercept]`` (no
        intercept entry without ``fit_intercept``): a warm start for
        :meth:`warm_fit` predicted by
        :func:`~sklearn_fairif.influence.parameter_shift`.
        """
        model = copy.deepcopy(fitted)
        delta = np.asarray(delta, dtype=float)
        d = model.coef_.shape[1]
        model.coef_ = model.coef_ + delta[:d].reshape(model.coef_.shape)
        if model.fit_intercept:
            model.intercept_ = model.intercept_ + delta[d:d + 1]
        return model

    def __init__(self, estimator, X, y, sample_weight):
        self.X = check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64)
        n, d = self.X.shape
        self.coef = np.asarray(estimator.coef_, dtype=float).ravel()
        self.fit_intercept = bool(estimator.fit_intercept)
        self.intercept = float(np.ravel(estimator.intercept_)[0])
        self.y = (np.asarray(y) == estimator.classes_[1]).astype(float)
        # class_weight scales each sample's loss inside the model: it belongs to
        # ell_i (so to grad_dot), while sample_weight only enters the Hessian.
        self.fit_weight = np.asarray(sample_weight, dtype=float)
        self.cw, self.balanced = _class_weights(estimator, y, self.fit_weight)
        self.sw = self.fit_weight * self.cw
        self.lam, self.lam_b = _l2_strengths(estimator, n)
        self.n_samples = n
        self.n_params = d + int(self.fit_intercept)
        self.default_solver = "exact" if self.n_params <= MAX_EXACT_PARAMS else "cg"
        # Convex objective: an L2 penalty already makes the Hessian positive
        # definite, and damping on top of it would bias the influence (1e-4
        # is 2.7 times the penalty of C=1 on Adult); it only guards the
        # unregularised case.
        self.default_damping = 0.0 if self.lam > 0 else 1e-4
        self.default_hessian_samples = None
        self.p = expit(self._margin(self.X))
        self._batch_cache = None

    # -- the design matrix with its intercept column, without building it ------
    def _margin(self, X):
        return safe_sparse_dot(X, self.coef) + self.intercept

    def _jac(self, X, V):
        """``[X, 1] @ V`` for V of shape (P, k)."""
        return _jac(X, V, self.fit_intercept)

    def _jac_t(self, X, R):
        """``[X, 1].T @ R`` for R of shape (m, k)."""
        out = np.asarray(safe_sparse_dot(X.T, R, dense_output=True))
        if self.fit_intercept:
            out = np.vstack([out, np.asarray(R.sum(axis=0)).reshape(1, -1)])
        return out

    def _regulariser(self):
        reg = np.full(self.n_params, self.lam)
        if self.fit_intercept:
            reg[-1] = self.lam_b
        return reg

    # -- the adapter protocol --------------------------------------------------
    def decision_function(self, X):
        """Margins ``z`` for ``X``."""
        X = _checked_rows(X)
        return np.asarray(self._margin(X)).ravel()

    def logit_vjp(self, X, G):
        """``sum_j G[j, c] * grad z_j``, shape (P, k)."""
        X = _checked_rows(X)
        return self._jac_t(X, np.asarray(G, dtype=float))

    def logit_jvp(self, X, V):
        """``grad z_j . V[:, c]`` for every row of ``X``, shape (m, k)."""
        X = _checked_rows(X)
        return self._jac(X, np.asarray(V, dtype=float))

    def hvp(self, V, batch=None):
        """Hessian of the mean objective times V (P × k); ``batch`` subsamples."""
        V = np.asarray(V, dtype=float)
        X, curvature = self._hessian_rows(batch)
        XV = self._jac(X, V)
        return self._jac_t(X, curvature[:, None] * XV) / X.shape[0] + (
            self._regulariser()[:, None] * V
        )

    def _hessian_rows(self, batch):
        """Rows and curvatures of an HVP; the last subset is kept for reuse.

        CG with ``hessian_samples`` passes the same index array to every
        iteration, so the rows are gathered once.
        """
        curvature = self._curvature()
        if batch is None:
            return self.X, curvature
        cached = self._batch_cache
        if cached is None or cached[0] is not batch:
            cached = self._batch_cache = (batch, self.X[batch], curvature[batch])
        return cached[1], cached[2]

    def _curvature(self):
        """Each row's weight in the Hessian, ``s_i p_i (1 - p_i)``."""
        return self.sw * self.p * (1.0 - self.p)

    def hessian_diagonal(self):
        """Diagonal of :meth:`hessian`, shape (P,), without forming it."""
        curvature, X = self._curvature(), self.X
        # Dense: one pass without an n x P copy of the squares (hessian()
        # likewise never copies all of X); sparse: a copy of the stored
        # entries only.
        diagonal = (np.asarray(X.multiply(X).T @ curvature).ravel()
                    if sparse.issparse(X)
                    else np.einsum("ij,ij,i->j", X, X, curvature))
        if self.fit_intercept:
            diagonal = np.append(diagonal, curvature.sum())
        return diagonal / self.n_samples + self._regulariser()

    def hessian(self):
        """Dense Hessian of the mean objective, shape (P, P).

        Built block of rows by block of rows, so the extra memory is one
        block of the weighted design matrix, never a copy of all of X.
        """
        X, n = self.X, self.n_samples
        curvature = self._curvature()
        d = X.shape[1]
        XtWX, col = np.zeros((d, d)), np.zeros(d)
        rows = max(1, _HESSIAN_BLOCK_VALUES // max(d, 1))
        for start in range(0, n, rows):
            block, c = X[start:start + rows], curvature[start:start + rows]
            if sparse.issparse(block):
                weighted = sparse.csr_matrix(block.multiply(c[:, None]))
                XtWX += (block.T @ weighted).toarray()
            else:
                weighted = block * c[:, None]
                XtWX += block.T @ weighted
            col += np.asarray(weighted.sum(axis=0)).ravel()
        H = XtWX
        if self.fit_intercept:
            H = np.block([[XtWX, col[:, None]], [col[None, :], curvature.sum()]])
        H = H / n
        H[np.diag_indices_from(H)] += self._regulariser()
        return H

    def _residual(self):
        """``d ell_i / d z_i``, class weight included."""
        return self.cw * (self.p - self.y)

    def grad_dot(self, U):
        """``grad ell_i . U[:, c]`` for every training sample, (n, k)."""
        return _grad_dot_rows(self.X, self._residual(), np.asarray(U, dtype=float),
                              self.fit_intercept)

    def influence_dot(self, U):
        """Differentiate the weighted gradient by each sample's weight, dot U.

        Equal to :meth:`grad_dot` except with ``class_weight="balanced"``: a
        LogisticRegression recomputes its class weights ``S / (2 S_y)`` from the
        weighted class totals ``S_y`` at every fit, so up-weighting sample ``i``
        also rescales its whole class, adding ``Q / S - Q_{y_i} / S_{y_i}`` with
        ``Q_y`` the weighted sum of :meth:`grad_dot` over class ``y``.
        """
        return self._rebalance(self.grad_dot(U))

    def influence_dot_tasks(self, U, n_blocks):
        """:meth:`influence_dot` as one task per block of rows (a RowTasks).

        A task holds its block's rows of ``X`` and residuals and all of ``U``
        (P x k, small): a process or cluster backend ships ``X`` once in all.
        The balanced-class correction needs whole-class totals, so it is
        applied to the stacked blocks. ``None`` (the single pass) below
        :attr:`min_split_products` multiply-adds: the product is then faster
        than sending it anywhere.
        """
        U = np.asarray(U, dtype=float)
        stored = self.X.nnz if sparse.issparse(self.X) else self.X.size
        if stored * U.shape[1] < self.min_split_products:
            return None
        residual = self._residual()
        # Row slices of a CSC matrix are slow and copy everything: one CSR.
        X = self.X.tocsr() if getattr(self.X, "format", None) == "csc" else self.X
        tasks = [(_grad_dot_rows, (X[rows], residual[rows], U, self.fit_intercept))
                 for rows in row_blocks(self.n_samples, n_blocks)]
        return RowTasks(tasks, combine=self._stack_blocks)

    def _stack_blocks(self, blocks):
        return self._rebalance(np.vstack(blocks))

    def _rebalance(self, out):
        """Add the balanced class weights' correction to ``grad_dot``'s ``out``."""
        if self.balanced:
            b = self.fit_weight[:, None]
            Q = {c: (b * out)[self.y == c].sum(0) for c in (0.0, 1.0)}
            S = {c: b[self.y == c].sum() for c in (0.0, 1.0)}
            total = (Q[0.0] + Q[1.0]) / (S[0.0] + S[1.0])
            for c in (0.0, 1.0):
                out[self.y == c] += total - Q[c] / S[c]
        return out

    def influence_dot_t(self, D):
        """Return the transpose of :meth:`influence_dot` applied to ``D``, (P, b).

        ``D.T @ influence_dot(U) == influence_dot_t(D).T @ U`` for every
        ``U``: one pass over the data for all ``b`` columns of ``D`` (n, b),
        the sum of the rows' gradients weighted by ``D``, which
        :func:`~sklearn_fairif.influence.parameter_shift` turns into the
        parameters' first-order change. A SciPy sparse ``D`` costs only the
        rows it holds.
        """
        residual = self._residual()
        if sparse.issparse(D):
            rows, D = held_rows(D)
            X = self.X[rows]
        else:
            rows, X, D = slice(None), self.X, np.asarray(D, dtype=float)
        out = self._jac_t(X, residual[rows, None] * D)
        if self.balanced:
            # The transpose of influence_dot's correction: row i gains
            # total - Q_{y_i} / S_{y_i}, linear in the rows' grad_dot. Summed
            # over a class's rows that is one fixed gradient per class times
            # one coefficient per column of D.
            b = self.fit_weight
            in_class = np.column_stack([self.y == 0.0, self.y == 1.0]).astype(float)
            S = b @ in_class
            mass = (D.T @ in_class[rows]).T  # (2, b): D's sum per class
            coef = mass.sum(axis=0) / S.sum() - mass / S[:, None]
            out += self._jac_t(self.X, (b * residual)[:, None] * in_class) @ coef
        return out

    @staticmethod
    def to_numpy(a):
        """Identity: this adapter computes in NumPy."""
        return np.asarray(a)

    @staticmethod
    def from_numpy(a):
        """Identity: this adapter computes in NumPy."""
        return np.asarray(a, dtype=float)


def _checked_rows(X):
    """``check_array`` of rows the model is evaluated on.

    A finite, non-empty float64 array passes as it is: the selection calls
    the margins' hooks on the same validation rows once per batch of
    candidates, and check_array's generic checks cost more than the product.
    """
    if (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == np.float64
            and X.size and np.isfinite(X).all()):
        return X
    return check_array(X, accept_sparse=("csr", "csc"), dtype=np.float64)


def _jac(X, V, fit_intercept):
    """``[X, 1] @ V`` for V of shape (P, k)."""
    out = np.asarray(safe_sparse_dot(X, V[: X.shape[1]], dense_output=True))
    if fit_intercept:
        out += V[-1]  # in place: with many columns out is the big array
    return out


def _grad_dot_rows(X, residual, U, fit_intercept):
    """``grad ell_i . U`` for the rows ``X`` with residuals ``d ell_i / d z_i``.

    A module-level function of its rows only: what a joblib worker runs for one
    block (see :meth:`LinearAdapter.influence_dot_tasks`).
    """
    out = _jac(X, U, fit_intercept)
    out *= residual[:, None]  # in place: one (n, k) array for the pass
    return out


def _class_weights(estimator, y, sample_weight):
    """Return per-sample class weights as the estimator computes them.

    Also says whether they are recomputed from the sample weights at every fit
    (LogisticRegression with "balanced").
    """
    class_weight = getattr(estimator, "class_weight", None)
    if class_weight is None:
        return np.ones(len(y)), False
    # LogisticRegression balances *weighted* class totals; SGDClassifier counts
    # rows (scikit-learn 1.9).
    sw = sample_weight if isinstance(estimator, LogisticRegression) else None
    per_class = compute_class_weight(
        class_weight, classes=estimator.classes_, y=y, sample_weight=sw
    )
    index = np.searchsorted(estimator.classes_, y)
    balanced = class_weight == "balanced" and sw is not None
    return per_class[index], balanced


def _logistic_penalty(estimator):
    """Effective ``(penalty, C)`` of a LogisticRegression across API versions."""
    penalty = getattr(estimator, "penalty", "deprecated")
    C = estimator.C
    if penalty == "deprecated":  # scikit-learn >= 1.8: l1_ratio and C decide
        l1_ratio = estimator.l1_ratio or 0.0
        penalty = "l2" if l1_ratio == 0 else ("l1" if l1_ratio == 1 else "elasticnet")
        if C == np.inf:
            penalty = None
    if penalty is None or penalty == "none":
        return None, np.inf
    return penalty, C


def _l2_strengths(estimator, n_samples):
    """``(lam, lam_b)`` of the mean objective, see the module docstring."""
    if isinstance(estimator, SGDClassifier):
        return (0.0 if estimator.penalty is None else estimator.alpha), 0.0
    penalty, C = _logistic_penalty(estimator)
    if penalty is None:
        return 0.0, 0.0
    lam = 1.0 / (C * n_samples)
    lam_b = 0.0
    if estimator.solver == "liblinear" and estimator.fit_intercept:
        lam_b = lam / estimator.intercept_scaling**2
    return lam, lam_b
