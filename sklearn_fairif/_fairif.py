"""FairIFClassifier: fairness by influence-function reweighting of the training data."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from ._base import BaseInfluenceReweighting
from ._objectives import OBJECTIVES, FairnessConstraints
from ._staging import StagedModel
from ._weights import solve_weights

# Chosen from the validation alpha paths measured on Adult, COMPAS and German
# (see the class docstring and benchmarks/results/fairif_linear.md).
DEFAULT_ALPHA = 0.3


class FairIFClassifier(BaseInfluenceReweighting):
    """Reweight the training data with influence functions to close fairness gaps.

    FairIF (Wang et al., WSDM 2024) needs group labels on a small validation set
    only. It fits ``estimator`` once, estimates with influence functions how
    up-weighting each training sample would move the fairness gaps measured on
    the validation set, solves for sample weights that close those gaps at a
    small cost in weight change, and refits ``estimator`` with them. ``predict``
    needs no group labels.

    Parameters
    ----------
    estimator : estimator, default=None
        A binary classifier with a differentiable loss: ``LogisticRegression``
        (L2 or no penalty), ``SGDClassifier(loss="log_loss")``, a skorch network
        (with ``sklearn-fairif[torch]``), or a Pipeline ending in one. ``None``
        means ``LogisticRegression()``. For any other classifier whose ``fit``
        takes ``sample_weight``, set ``influence_estimator``.
    objective : {"equalized_odds", "equal_opportunity", "accuracy_parity", \
            "error_rate_parity", "demographic_parity"}, default="equalized_odds"
        Which group rates to equalise on the validation set: TPR and TNR (the
        paper's), TPR only, accuracy (= error rate), or the selection rate (needs
        no ``y_val``). With two groups each rate gives one constraint (group 0's
        rate minus group 1's); with more, one per group against the
        validation-wide rate.
    alpha : float or list of float, default=0.3
        Strength of the penalty on ``mean((w - 1)**2)`` in the weight problem
        ``min sum_c (predicted gap_c)**2 + alpha * mean((w - 1)**2)``, ``w >= 0``,
        ``mean(w) = 1``. The gap term is in squared rate units, so ``alpha=0.01``
        accepts a mean squared weight change of 1 to close a gap of 0.1: smaller
        values reweight more aggressively. With a list, every value is tried
        (influence computed once, one refit each) and ``alpha_`` is the value
        with the smallest validation gap among those whose validation accuracy
        is within ``tol`` of the unweighted model's. The default was picked from
        such paths on the *validation* splits of the bundled Adult, COMPAS and
        German data sets (logistic regression, 3 seeds, alpha from 0.001 to
        10): it is the smallest value whose validation accuracy stays within
        one point of the unweighted model's on all three (it halves the
        validation AOD on Adult, and cuts it by about 15% on COMPAS and
        German, where closing more costs accuracy; pass a list to trade
        further).
    temperature : float, default=1.0
        Temperature ``tau`` of the soft rates ``sigmoid(z / tau)``.
    surrogate : {"softmax", "gumbel"}, default="softmax"
        Soft rate: the softmax probability of the counted class, or the same
        with Gumbel noise averaged over draws (as in the paper).
    solver : {"auto", "exact", "cg", "lissa"} or solver instance, default="auto"
        How ``H^-1 grad g`` is solved: Cholesky on the dense damped Hessian,
        matrix-free conjugate gradients, or LiSSA. ``"auto"`` picks ``"exact"``
        for linear models with up to 2000 parameters and ``"cg"`` otherwise.
        Instances of :class:`~sklearn_fairif.influence.ExactSolver`,
        :class:`~sklearn_fairif.influence.CGSolver` or
        :class:`~sklearn_fairif.influence.LissaSolver` set their options.
    damping : float or "auto", default="auto"
        Added to the diagonal of the Hessian of the mean training objective.
        ``"auto"`` starts at 1e-4 for linear models (convex: it only guards
        the unregularised case) and 1e-2 for networks, and multiplies it by 10
        (up to 4 times) while the solver finds the damped Hessian not
        positive definite, as a network's usually is away from an exact
        minimum. The value used is ``damping_``.
    influence_params : "all", "last_layer" or list of str, default="all"
        For a skorch network: the parameters the influence is taken over (the
        others are held fixed): all trainable ones, those of the last layer
        (the usual choice for large pretrained networks), or a list of names
        from ``module_.named_parameters()``. Ignored by linear models.
    n_rounds : int, default=1
        Rounds of (influence, weights, refit). Later rounds recompute the
        influence at the refitted model to close the residual gap that the
        first-order step leaves.
    tol : float, default=0.01
        Validation-accuracy tolerance when choosing among several ``alpha``.
    influence_estimator : estimator, default=None
        A supported model (e.g. ``LogisticRegression()`` or a Pipeline ending in
        one) used only to compute the weights, when ``estimator`` itself has no
        differentiable loss (gradient boosting, random forests, ...).
        ``estimator`` is then refitted with those weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the Gumbel noise and LiSSA's mini-batches.
    verbose : int, default=0
        Print stage timings when > 0; progress bars when > 1.

    Attributes
    ----------
    estimator_ : estimator
        The model refitted with the fair weights; ``predict`` delegates to it.
    initial_estimator_ : estimator
        The model fitted with unit weights (stage 1).
    sample_weight_ : ndarray of shape (n_samples,)
        FairIF's weights (mean 1, non-negative). The final model was trained
        with ``sample_weight_ * sample_weight``.
    influence_ : ndarray of shape (n_samples, n_constraints)
        ``influence_[i, c]``: derivative of validation constraint ``c`` with
        respect to up-weighting training sample ``i``, at the stage-1 model.
    alpha_ : float
        The ``alpha`` used by ``estimator_``.
    damping_ : float
        The damping used (last influence computation).
    constraint_names_ : list of str
        One name per constraint, e.g. ``"tpr[0] - tpr[1]"``.
    validation_gaps_ : dict of ndarray
        Per constraint: ``"before"`` (soft value at stage 1), ``"predicted"``
        (first-order prediction at the weights), ``"after"`` (soft value
        after the refit), ``"hard_before"`` and ``"hard_after"`` (the same with
        0/1 predictions of ``estimator``).
    stage_times_ : dict of float
        Wall time in seconds spent in each stage, summed over rounds and
        ``alpha`` values: stage 1, influence, weights, stage 2.
    cv_results_ : dict of list
        One entry per ``alpha`` tried: ``"alpha"``, ``"val_accuracy"``,
        ``"val_gap"`` (mean absolute hard gap) and ``"val_gaps"``.
    classes_ : ndarray of shape (2,)
        The class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn_fairif.metrics.average_odds_difference : The paper's AOD metric.

    Notes
    -----
    Influences follow one sign convention: the derivative of a validation
    quantity with respect to *up-weighting* a training sample. With the mean
    objective ``(1/n) sum_i w_i s_i ell_i + R`` and its Hessian ``H``
    (regulariser included), ``influence_[i, c] = -(1/n) grad g_c^T H^-1 s_i
    grad ell_i``; ``H^-1 grad g_c`` is solved once per constraint.

    Without ``X_val`` the estimator is fitted with unit weights, so the class
    also behaves as a plain classifier (e.g. under ``check_estimator``).

    References
    ----------
    H. Wang, Z. Wu, J. He. "FairIF: Boosting Fairness in Deep Learning via
    Influence Functions with Validation Set Sensitive Attributes". WSDM 2024.

    Examples
    --------
    >>> from sklearn_fairif import FairIFClassifier
    >>> from sklearn_fairif.datasets import make_biased_classification
    >>> X, y, s = make_biased_classification(2000, bias="group_size", random_state=0)
    >>> clf = FairIFClassifier(random_state=0)
    >>> clf.fit(X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:], s_val=s[1500:])
    FairIFClassifier(random_state=0)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> bool(abs(clf.sample_weight_.mean() - 1) < 1e-9)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "objective": [StrOptions(set(OBJECTIVES))],
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "surrogate": [StrOptions({"softmax", "gumbel"})],
        "solver": [StrOptions({"auto", "exact", "cg", "lissa"}), HasMethods(["solve"])],
        "damping": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "influence_params": [StrOptions({"all", "last_layer"}), list],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "influence_estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        objective="equalized_odds",
        alpha=DEFAULT_ALPHA,
        temperature=1.0,
        surrogate="softmax",
        solver="auto",
        damping="auto",
        influence_params="all",
        n_rounds=1,
        tol=0.01,
        influence_estimator=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.objective = objective
        self.alpha = alpha
        self.temperature = temperature
        self.surrogate = surrogate
        self.solver = solver
        self.damping = damping
        self.influence_params = influence_params
        self.n_rounds = n_rounds
        self.tol = tol
        self.influence_estimator = influence_estimator
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None, s_val=None, sample_weight=None,
            **fit_params):
        """Fit, compute influences on the validation gaps, reweight and refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; it carries no sensitive attribute.
        y : array-like of shape (n_samples,)
            Binary training labels.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
                default=None
            Validation data in the same format as ``X``. Without it, the
            estimator is fitted with unit weights.
        y_val : array-like of shape (n_val,), default=None
            Validation labels (needed by every objective but demographic parity).
        s_val : array-like of shape (n_val,), default=None
            Validation group labels (two or more groups).
        sample_weight : array-like of shape (n_samples,), default=None
            User weights: both stages train with them, FairIF's weights
            multiply them, and the influence is computed for that objective.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled). For a Pipeline, ``"<step>__<param>"`` as in ``Pipeline``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = self._validate_training_data(X, y)
        sample_weight = _check_sample_weight(sample_weight, X)
        self.stage_times_ = {}
        model = StagedModel(
            self._get_estimator(), X, y, X_val, self._route_fit_params(fit_params),
            sample_weight=sample_weight,
        )
        if X_val is None:
            return self._fit_unweighted(model, y_val, s_val, sample_weight)

        y_val, s_val = self._validate_validation_data(X, X_val, y_val, s_val)
        influence_model = self._influence_model(model, X, y, X_val, sample_weight)
        constraints = FairnessConstraints(
            self.objective, y_val, s_val, temperature=self.temperature,
            surrogate=self.surrogate, random_state=self.random_state,
        )
        with self._timed("stage 1 (unweighted fit)"):
            self.initial_estimator_ = model.fit(sample_weight)
            initial_influence_fit = (
                self.initial_estimator_ if influence_model is model
                else influence_model.fit(sample_weight)
            )
        with self._timed("influence"):
            self.influence_, gaps = self._influence(
                influence_model, initial_influence_fit, constraints, sample_weight,
                np.ones(len(y)),
            )
        path = [
            self._reweight(model, influence_model, constraints, sample_weight,
                           alpha, gaps)
            for alpha in self._alphas()
        ]
        self._select(path, constraints, gaps, X_val, y_val)
        return self

    # ------------------------------------------------------------ fit steps
    def _alphas(self):
        return [float(a) for a in np.atleast_1d(self.alpha)]

    def _fit_unweighted(self, model, y_val, s_val, sample_weight):
        super()._fit_unweighted(model, y_val, s_val, sample_weight)
        self.initial_estimator_ = self.estimator_
        return self

    def _reweight(self, model, influence_model, constraints, sample_weight, alpha,
                  gaps):
        """Weights for one alpha: ``n_rounds`` of (weights, refit, influence)."""
        weights = np.ones(len(sample_weight))
        influence = self.influence_
        for round_ in range(self.n_rounds):
            if round_:
                with self._timed("stage 2 (weighted refit)"):
                    fitted = influence_model.fit(sample_weight * weights)
                with self._timed("influence"):
                    influence, gaps = self._influence(
                        influence_model, fitted, constraints, sample_weight,
                        weights,
                    )
            with self._timed("weights"):
                weights, predicted = solve_weights(
                    influence, gaps, alpha, current_weights=weights
                )
        with self._timed("stage 2 (weighted refit)"):
            fitted = model.fit(sample_weight * weights)
        # The surrogate after the refit, measured on the model the influence was
        # computed for, is what the first-order prediction should match.
        influence_fit = fitted
        if influence_model is not model:
            influence_fit = influence_model.fit(sample_weight * weights)
        adapter = influence_model.adapter(
            influence_fit, sample_weight * weights, **self._adapter_options()
        )
        soft_after = constraints.values(
            adapter.decision_function(influence_model.Xt_val)
        )
        return {"alpha": alpha, "weights": weights, "predicted": predicted,
                "soft_after": soft_after, "estimator": fitted}

    def _select(self, path, constraints, gaps, X_val, y_val):
        """Evaluate every alpha on the validation set and keep the chosen one."""
        hard_before = constraints.hard_values(self._predict_01(
            self.initial_estimator_, X_val))
        acc_before = _accuracy(self._predict_01(self.initial_estimator_, X_val), y_val)
        for entry in path:
            y_pred = self._predict_01(entry["estimator"], X_val)
            entry["hard"] = constraints.hard_values(y_pred)
            entry["accuracy"] = _accuracy(y_pred, y_val)
            entry["gap"] = float(np.mean(np.abs(entry["hard"])))
        best = _choose_alpha(path, acc_before, self.tol)
        self.estimator_ = best["estimator"]
        self.sample_weight_ = best["weights"]
        self.alpha_ = best["alpha"]
        self.constraint_names_ = list(constraints.names)
        self.cv_results_ = {
            "alpha": [e["alpha"] for e in path],
            "val_accuracy": [e["accuracy"] for e in path],
            "val_gap": [e["gap"] for e in path],
            "val_gaps": [e["hard"] for e in path],
        }
        self.validation_gaps_ = {
            "before": gaps,
            "predicted": best["predicted"],
            "after": best["soft_after"],
            "hard_before": hard_before,
            "hard_after": best["hard"],
        }


def _accuracy(y_pred01, y_val):
    return np.nan if y_val is None else float(np.mean(y_pred01 == y_val))


def _choose_alpha(path, acc_before, tol):
    """Smallest validation gap among alphas within ``tol`` of the base accuracy."""
    if np.isnan(acc_before):  # no labels (demographic parity): gap only
        return min(path, key=lambda e: e["gap"])
    admissible = [e for e in path if e["accuracy"] >= acc_before - tol]
    if not admissible:
        if len(path) > 1:
            warnings.warn(
                f"No alpha kept the validation accuracy within tol={tol} of the "
                "unweighted model's; using the most accurate one.",
                UserWarning,
                stacklevel=5,  # _select, fit, its _fit_context wrapper, caller
            )
        return max(path, key=lambda e: e["accuracy"])
    return min(admissible, key=lambda e: (e["gap"], -e["alpha"]))

