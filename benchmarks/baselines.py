"""The methods FairIF is benchmarked against, behind one small interface.

Every method wraps the same base model (a Pipeline of preprocessing and a final
``LogisticRegression``, or any estimator ``fit_weighted`` supports) and is fitted
with ``fit(X, y, s, X_val, y_val, s_val)``; ``s`` is the *training* group label,
read only by the methods whose ``uses_train_groups`` is True. ``predict(X)``
never needs group labels.

- :class:`ERM`: the base model, unit weights.
- :class:`FairIF`: ``FairIFClassifier`` (validation groups only).
- :class:`LiLiu`: Li & Liu (ICML 2022), "Achieving Fairness at No Utility Cost
  via Data Reweighting with Influence", reimplemented from the paper's
  description: per-sample influence on a fairness surrogate and on the
  validation loss, a linear program over removal amounts ``x`` in [0, 1]
  solved with HiGHS, refit with weights ``1 - x`` (validation groups only).
- :class:`KamiranCalders`: reweighing (training groups).
- :class:`ExpGrad`: fairlearn's ``ExponentiatedGradient(EqualizedOdds())``
  (training groups).
- :class:`JTT`: Just Train Twice (Liu et al., ICML 2021): no training groups;
  up-weights the first model's errors; tuned on the validation set.
- :class:`GapPenalty`: a reference rather than a competitor: logistic regression
  trained directly with a penalty on the soft equalized-odds gaps of either the
  validation set or the (group-labelled) training set. It maps the accuracy-vs-
  fairness frontier that the model class allows (``frontier.py``).

Tuned methods (FairIF with an alpha list, Li & Liu's budget, JTT's grid) all
choose with the same validation rule as ``FairIFClassifier``: the smallest
validation AOD among the candidates whose validation accuracy is within ``tol``
of the unweighted model's, else the most accurate. The test split is never read.
"""

import numpy as np
from scipy import sparse
from scipy.optimize import linprog, minimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.adapters import fit_weighted, get_adapter_class, make_adapter
from sklearn_fairif.influence import (
    FairnessConstraints,
    compute_influence,
    solve_weights,
)
from sklearn_fairif.metrics import average_odds_difference

TOL = 0.01


# ------------------------------------------------------------------ helpers
class Prepared:
    """A base model's preprocessing fitted once, and weighted fits of its final step.

    Every method reweights only the final step (as ``FairIFClassifier`` does), so
    a Pipeline's transformers are fitted once, on the unweighted training data.
    Weighted fits go through ``sklearn_fairif.adapters.fit_weighted`` (the model
    family's own weighted training); a family that wants its targets in a
    given form (skorch: 0/1 in the module's dtype) gets them through its
    ``prepare_fit_data`` hook.
    """

    def __init__(self, estimator, X, y):
        if isinstance(estimator, Pipeline):
            self.pre, self.final = clone(estimator[:-1]), estimator[-1]
            self.Xt = self.pre.fit_transform(X, y)
        else:
            self.pre, self.final, self.Xt = None, estimator, X
        self.y = np.asarray(y)
        self.classes = np.unique(self.y)
        self.y_fit = self.y
        prepare = getattr(_family(self.final), "prepare_fit_data", None)
        if prepare is not None:
            self.Xt, self.y_fit = prepare(self.final, self.Xt, self.encode(self.y))

    def transform(self, X):
        return X if self.pre is None else self.pre.transform(X)

    def encode(self, y):
        """Labels as 0/1 (1 for the larger label)."""
        return (np.asarray(y) == self.classes[1]).astype(int)

    def fit(self, sample_weight, final=None):
        return fit_weighted(final if final is not None else self.final,
                            self.Xt, self.y_fit, sample_weight)

    def adapter(self, fitted, sample_weight=None):
        """The influence adapter of a final step fitted by :meth:`fit`."""
        return make_adapter(fitted, self.Xt, self.y_fit, sample_weight)


def _family(estimator):
    """The adapter class of ``estimator``'s family, or None if it has none."""
    try:
        return get_adapter_class(estimator)
    except TypeError:
        return None


def _dense(X):
    """fairlearn's reductions need dense input."""
    return X.toarray() if sparse.issparse(X) else X


def _val_scores(y_val, y_pred, s_val):
    acc = float(np.mean(np.asarray(y_pred) == np.asarray(y_val)))
    aod = average_odds_difference(y_val, y_pred, sensitive_features=s_val)
    return acc, float(aod)


def select(candidates, acc_ref, tol=TOL):
    """The validation rule ``FairIFClassifier`` documents for its alpha list.

    Least validation AOD among the candidates whose validation accuracy is
    within ``tol`` of the unweighted model's, else the most accurate. Applied
    to the *other* tuned methods (JTT's grid, Li & Liu's target) so that all
    choose alike; FairIF itself chooses inside ``FairIFClassifier``.
    ``candidates`` are dicts with ``val_acc`` and ``val_aod``; returns one.
    """
    admissible = [c for c in candidates if c["val_acc"] >= acc_ref - tol]
    if not admissible:
        return max(candidates, key=lambda c: c["val_acc"])
    return min(admissible, key=lambda c: c["val_aod"])


class _Method:
    """Common interface; subclasses set ``name`` and ``uses_train_groups``."""

    name = "?"
    uses_train_groups = False
    chosen_ = None

    def predict(self, X):
        return self.model_.predict(self.prepared_.transform(X))


# ------------------------------------------------------------------ methods
class ERM(_Method):
    name = "ERM"

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        self.prepared_ = Prepared(self.estimator, X, y)
        self.model_ = self.prepared_.fit(np.ones(len(y)))
        return self


class FairIF(_Method):
    """``FairIFClassifier`` with the given ``alpha`` (float or list)."""

    def __init__(self, estimator, alpha=None, name="FairIF (default alpha)", **kw):
        self.estimator, self.alpha, self.name, self.kw = estimator, alpha, name, kw

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        kw = dict(self.kw)
        if self.alpha is not None:
            kw["alpha"] = self.alpha
        self.clf_ = FairIFClassifier(self.estimator, **kw)
        self.clf_.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
        self.chosen_ = self.clf_.alpha_
        return self

    def predict(self, X):
        return self.clf_.predict(X)

    def curve(self, X, y, X_test, alphas):
        """Test-set predictions of refits along ``alphas`` (evaluation only).

        Reuses the fitted ``FairIFClassifier``'s influence (``influence_``,
        ``validation_gaps_["before"]``) and makes one weighted refit per alpha,
        as an alpha list does inside the estimator; nothing is chosen here.
        The refits start cold; the estimator may warm-start its own, which
        agrees within the solver's ``tol``.
        """
        clf = self.clf_
        prepared = Prepared(self.estimator, X, y)
        Xt_test = prepared.transform(X_test)
        ones = np.ones(len(prepared.y))
        predictions = []
        for alpha in alphas:
            w, _ = solve_weights(clf.influence_, clf.validation_gaps_["before"],
                                 alpha, current_weights=ones)
            predictions.append(prepared.fit(w).predict(Xt_test))
        return predictions


class KamiranCalders(_Method):
    """Reweighing: ``w(s, y) = P(s) P(y) / P(s, y)`` on the training set."""

    name = "Kamiran & Calders"
    uses_train_groups = True

    def __init__(self, estimator):
        self.estimator = estimator

    @staticmethod
    def weights(y, s):
        y, s = np.asarray(y), np.asarray(s)
        w = np.empty(len(y))
        for g in np.unique(s):
            for c in np.unique(y):
                cell = (s == g) & (y == c)
                if cell.any():
                    w[cell] = np.mean(s == g) * np.mean(y == c) / np.mean(cell)
        return w

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        self.prepared_ = Prepared(self.estimator, X, y)
        self.sample_weight_ = self.weights(y, s)
        self.model_ = self.prepared_.fit(self.sample_weight_)
        return self


class ExpGrad(_Method):
    """fairlearn ``ExponentiatedGradient(EqualizedOdds())`` on the final step.

    The preprocessing is fitted once (unweighted); the reduction refits the
    final estimator with its own sample weights. Predictions are randomised
    over the found mixture, with a fixed ``random_state``.
    """

    name = "ExpGrad (EqualizedOdds)"
    uses_train_groups = True

    def __init__(self, estimator, random_state=0, max_iter=50,
                 difference_bound=None):
        self.estimator, self.random_state = estimator, random_state
        self.max_iter, self.difference_bound = max_iter, difference_bound

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

        self.prepared_ = Prepared(self.estimator, X, y)
        self.model_ = ExponentiatedGradient(
            clone(self.prepared_.final),
            EqualizedOdds(difference_bound=self.difference_bound),
            max_iter=self.max_iter)
        self.model_.fit(_dense(self.prepared_.Xt), self.prepared_.y,
                        sensitive_features=np.asarray(s))
        return self

    def predict(self, X):
        return self.model_.predict(_dense(self.prepared_.transform(X)),
                                   random_state=self.random_state)


class JTT(_Method):
    """Just Train Twice: up-weight the errors of a (more regularised) first model.

    Grid: the first model's parameters (``first_params``: for logistic
    regression a smaller ``C``, for a network fewer epochs, i.e. its early
    stop) times the up-weight factor ``lambda_up``; chosen on the validation set.
    """

    name = "JTT"

    def __init__(self, estimator, first_params=({"C": 0.01}, {"C": 0.1}),
                 lambdas=(2, 5, 10, 20)):
        self.estimator, self.first_params = estimator, first_params
        self.lambdas = lambdas

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        self.prepared_ = st = Prepared(self.estimator, X, y)
        Xt_val = st.transform(X_val)
        erm = st.fit(np.ones(len(y)))
        acc_ref, _ = _val_scores(y_val, np.asarray(erm.predict(Xt_val)), s_val)
        candidates = []
        for params in self.first_params:
            first = st.fit(np.ones(len(y)),
                           final=clone(st.final).set_params(**params))
            errors = np.asarray(first.predict(st.Xt)) != st.y
            for lam in self.lambdas:
                model = st.fit(np.where(errors, float(lam), 1.0))
                acc, aod = _val_scores(y_val, np.asarray(model.predict(Xt_val)), s_val)
                candidates.append({"val_acc": acc, "val_aod": aod, "model": model,
                                   "params": (params, lam)})
        best = select(candidates, acc_ref)
        self.model_, self.chosen_ = best["model"], best["params"]
        return self


class LiLiu(_Method):
    """Li & Liu (2022): influence-guided removal via a linear program (HiGHS).

    With ``a_fair[i]`` the influence of up-weighting sample ``i`` on the
    linearised fairness surrogate ``f = sum_c sign(g_c) g_c`` (the soft
    equalized-odds gaps of the validation set, the same surrogate as FairIF's)
    and ``a_util[i]`` its influence on the mean validation log-loss, removing
    the fraction ``x_i`` of sample ``i`` changes them by ``-x_i a[i]``. The LP
    asks for the least removal that cuts the predicted surrogate by the
    fraction ``lam`` of its value at no predicted validation-loss cost::

        min_x  sum_i x_i
        s.t.   sum_i x_i a_fair[i] >= lam * f       (fairness gain)
               -sum_i x_i a_util[i] <= 0            (no validation-loss increase)
               0 <= x_i <= 1

    It is solved with ``scipy.optimize.linprog(method="highs")`` and the model
    is refitted with ``sample_weight = 1 - x``; when the LP is infeasible,
    nothing is removed. Each ``lam`` is solved and refitted and one is chosen
    on the validation set (no training groups).
    """

    name = "Li & Liu"

    def __init__(self, estimator, lams=(0.25, 0.5, 0.75, 1.0)):
        self.estimator, self.lams = estimator, lams

    @staticmethod
    def influences(adapter, Xt_val, y_val, s_val):
        """``(a_fair, a_util, f)``: influences on the surrogate and the val loss.

        One ``compute_influence`` call (one iHVP solve, FairIF's
        ``damping="auto"`` policy) on the equalized-odds constraints with the
        mean validation log-loss stacked as a third column.
        """
        fairness = FairnessConstraints("equalized_odds", y_val, s_val)
        result = compute_influence(adapter, _WithValidationLoss(fairness, y_val),
                                   Xt_val, damping="auto")
        k = fairness.n_constraints
        infl, gaps = result.influence[:, :k], result.gaps[:k]
        a_fair = infl @ np.sign(gaps)
        return a_fair, result.influence[:, k], float(np.abs(gaps).sum())

    @staticmethod
    def solve_lp(a_fair, a_util, f, lam):
        """Removal amounts ``x`` in [0, 1] (see the class docstring)."""
        n = len(a_fair)
        A_ub = np.vstack([-a_fair, -a_util])
        b_ub = np.array([-lam * f, 0.0])
        res = linprog(np.ones(n), A_ub=A_ub, b_ub=b_ub, bounds=(0.0, 1.0),
                      method="highs")
        if res.status != 0:  # infeasible: the LP finds no such removal
            return np.zeros(n)
        return np.clip(res.x, 0.0, 1.0)

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        self.prepared_ = st = Prepared(self.estimator, X, y)
        Xt_val = st.transform(X_val)
        erm = st.fit(np.ones(len(y)))
        a_fair, a_util, f = self.influences(st.adapter(erm), Xt_val,
                                            st.encode(y_val), s_val)
        acc_ref, _ = _val_scores(y_val, erm.predict(Xt_val), s_val)
        candidates = []
        for lam in self.lams:
            x = self.solve_lp(a_fair, a_util, f, lam)
            model = st.fit(1.0 - x)
            acc, aod = _val_scores(y_val, model.predict(Xt_val), s_val)
            candidates.append({"val_acc": acc, "val_aod": aod, "model": model,
                               "lam": lam, "x": x})
        best = select(candidates, acc_ref)
        self.model_, self.chosen_ = best["model"], best["lam"]
        self.removal_ = best["x"]
        return self


class _WithValidationLoss:
    """Constraints with the mean validation log-loss appended as a last column.

    Duck-types ``FairnessConstraints`` (``values`` and ``grad_margins`` of the
    margins ``z``), which is all ``compute_influence`` reads.
    """

    def __init__(self, constraints, y_val):
        self.constraints = constraints
        self.y_val = np.asarray(y_val, dtype=float)

    def values(self, z):
        z = np.asarray(z, dtype=float)
        loss = np.mean(np.logaddexp(0.0, z) - self.y_val * z)
        return np.append(self.constraints.values(z), loss)

    def grad_margins(self, z):
        # d mean log-loss / d z_j = (sigma(z_j) - y_j) / m.
        z = np.asarray(z, dtype=float)
        loss = (expit(z) - self.y_val) / len(z)
        return np.column_stack([self.constraints.grad_margins(z), loss])


class GapPenalty(_Method):
    """Logistic regression with a penalty on soft equalized-odds gaps (reference).

    Minimises scikit-learn's ``LogisticRegression`` objective (in mean form:
    ``mean_i l_i + |coef|**2 / (2 C n)``) plus ``mu * sum_c g_c(theta)**2``,
    where ``g`` are the soft TPR and TNR gaps FairIF uses (temperature 1), with
    L-BFGS from the unweighted fit. No influence approximation and no weights:
    the parameters move to wherever the penalised objective is lowest.

    ``groups="val"`` penalises the gaps of the validation set, the only group
    labels FairIF reads: sweeping ``mu`` traces the frontier that FairIF's
    first-order reweighting approximates. ``groups="train"`` penalises the gaps
    of the training set with its group labels, an oracle that FairIF never has.
    Given the test split in the validation slot, ``groups="val"`` gives the
    frontier's in-sample bound.
    """

    def __init__(self, estimator, mu, groups="val"):
        self.estimator, self.mu, self.groups = estimator, mu, groups
        self.uses_train_groups = groups == "train"
        self.name = f"penalty on {groups} gaps"

    def fit(self, X, y, s=None, X_val=None, y_val=None, s_val=None):
        self.prepared_ = st = Prepared(self.estimator, X, y)
        if not (isinstance(st.final, LogisticRegression) and st.final.fit_intercept):
            raise ValueError("GapPenalty needs a LogisticRegression with an "
                             f"intercept as the final step, got {st.final!r}.")
        erm = st.fit(np.ones(len(y)))
        y01 = (st.y == erm.classes_[1]).astype(float)
        if self.groups == "train":
            Xg, yg, sg = st.Xt, y01, s
        else:
            Xg, sg = st.transform(X_val), s_val
            yg = (np.asarray(y_val) == erm.classes_[1]).astype(float)
        constraints = FairnessConstraints("equalized_odds", yg, np.asarray(sg))
        Z, Zg = _with_intercept(st.Xt), _with_intercept(Xg)
        n, reg = len(y01), 1.0 / (erm.C * len(y01))

        def objective(theta):
            z, zg = Z @ theta, Zg @ theta
            g = constraints.values(zg)
            loss = np.mean(np.logaddexp(0.0, z) - y01 * z)
            grad = Z.T @ (expit(z) - y01) / n
            grad += 2.0 * self.mu * (Zg.T @ (constraints.grad_margins(zg) @ g))
            coef = theta[:-1]
            grad[:-1] += reg * coef
            return loss + 0.5 * reg * coef @ coef + self.mu * g @ g, grad

        theta0 = np.append(erm.coef_.ravel(), erm.intercept_)
        self.theta_ = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                               options={"maxiter": 5000, "gtol": 1e-7,
                                        "ftol": 1e-12}).x
        self.classes_ = erm.classes_
        return self

    def predict(self, X):
        z = _with_intercept(self.prepared_.transform(X)) @ self.theta_
        return self.classes_[(z > 0).astype(int)]


def _with_intercept(X):
    """``[X, 1]``, sparse when ``X`` is."""
    ones = np.ones((X.shape[0], 1))
    if sparse.issparse(X):
        return sparse.hstack([X, ones], format="csr")
    return np.hstack([X, ones])


def all_methods(make_model, *, seed=0, alphas=None, expgrad=True):
    """The benchmark's methods, in table order, each on a fresh base model."""
    methods = [
        ERM(make_model()),
        FairIF(make_model(), random_state=seed),
        # The default before alpha="auto": the README's earlier claims.
        FairIF(make_model(), alpha=0.3, name="FairIF (alpha=0.3)", random_state=seed),
        FairIF(make_model(), alpha=list(alphas), name="FairIF (alpha on val)",
               random_state=seed),
        LiLiu(make_model()),
        JTT(make_model()),
        KamiranCalders(make_model()),
    ]
    if expgrad:
        methods.append(ExpGrad(make_model(), random_state=seed))
    return methods
