"""FairIFClassifier: fairness by influence-function reweighting of the training data."""

import warnings
from dataclasses import replace
from functools import partial
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions

from ._alpha import (
    DEFAULT_ALPHAS,
    MarginShift,
    _keeps,
    first_within_budget,
    make_crossfit_plan,
)
from ._alpha_folds import _seed
from ._base import BaseInfluenceReweighting, _check_finite_influence
from ._objectives import FairnessConstraints
from ._weights import solve_weights
from .influence import CGSolver, parameter_shift
from .utils._arrays import check_positive_values
from .utils._logging import (
    STAGE_INFLUENCE,
    STAGE_INITIAL,
    STAGE_REFIT,
    STAGE_SELECTION,
    STAGE_WEIGHTS,
    logger,
    timed_stage,
    verbose_logging,
)
from .utils._warnings import external_stacklevel

# The fallback of alpha="auto" on a validation set too small to cross-fit:
# the smallest value whose validation accuracy stayed within one point of the
# unweighted model's on Adult, COMPAS and German (benchmarks/results).
DEFAULT_ALPHA = 0.3

# alpha="auto" refits at most this many larger candidates when its choice's
# refit loses more than tol of validation accuracy: one, two and four grid
# steps up (a factor of 2.2 each), enough where the COMPAS MLP's choices
# missed (one or two steps), then the largest, so that the search covers the
# whole grid: at most four more trainings of a network.
MAX_FINALIST_REFITS = 4

# Relative residual at which the selection's conjugate-gradients solves stop
# (the fit's own stay at the solver's tol): see _selection_solver.
SELECTION_CG_TOL = 1e-3


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
    alpha : "auto", float or list of float, default="auto"
        Strength of the penalty on ``mean((w - 1)**2)`` in the weight problem
        ``min sum_c (predicted gap_c)**2 + alpha * mean((w - 1)**2)``, ``w >= 0``,
        ``mean(w) = 1``. The gap term is in squared rate units, so ``alpha=0.01``
        accepts a mean squared weight change of 1 to close a gap of 0.1: smaller
        values reweight more aggressively.

        ``"auto"`` chooses alpha by cross-fitting on the validation set, with
        no refit per candidate: for each of 5 folds (stratified on group x
        label), the weights are solved against the other folds' constraints
        for 16 log-spaced alphas from 1e-4 to 10, and judged on the held-out
        fold by first-order predictions of its gaps and of its accuracy (the
        held-out rows' predicted margins). ``alpha_`` is the value with the
        smallest mean held-out gap among those whose predicted held-out
        accuracy falls by at most ``tol`` (near-ties, within 1% of it, go to
        the larger alpha; if none is admissible, the largest, 10, with a
        warning). Everything comes from the
        influence stage: the folds' constraints are extra right-hand sides of its
        exact solve (or, with an iterative solver, of a second solve to a
        looser tolerance), and the held-out margins move by the first-order
        parameter shift of each candidate's weights. The choice is then
        refitted; if that refit's validation accuracy falls by more than
        ``tol`` (a network's refit can lose more than its first-order
        prediction), up to four larger candidates are refitted (one, two
        and four grid steps up, then the largest) and the smallest that
        keeps it is used. When the validation set is too small to give every
        fold each group x label cell, a warning is issued and 0.3 is refitted,
        with the same check (over the grid's values above 0.3).

        With a list, every value is refitted and ``alpha_`` is the value with
        the smallest (in-sample) validation gap among those whose validation
        accuracy is within ``tol`` of the unweighted model's. With a float,
        that value. See :ref:`choosing_alpha`.
    temperature : float, default=1.0
        Temperature ``tau`` of the soft rates ``sigmoid(z / tau)``.
    surrogate : {"softmax", "gumbel"}, default="softmax"
        Soft rate: the softmax probability of the counted class, or the same
        with Gumbel noise averaged over draws (as in the paper).
    solver : {"auto", "exact", "cg", "lissa"} or solver instance, default="auto"
        How ``H^-1 grad g`` is solved: Cholesky on the dense damped Hessian,
        matrix-free conjugate gradients, or LiSSA. ``"auto"`` picks ``"exact"``
        for linear models with up to 2000 parameters and networks with up to
        1024 influence parameters, and ``"cg"`` otherwise.
        Instances of :class:`~sklearn_fairif.influence.ExactSolver`,
        :class:`~sklearn_fairif.influence.CGSolver` or
        :class:`~sklearn_fairif.influence.LissaSolver` set their options.
    damping : float or "auto", default="auto"
        Added to the diagonal of the Hessian of the mean training objective.
        ``"auto"`` adds none to an L2-regularised linear model (its penalty
        already makes the Hessian positive definite, and extra damping would
        bias the influence), starts at 1e-4 for an unregularised one and at
        1e-2 for networks, and multiplies it by 10 (up to 4 times) while the
        solver finds the damped Hessian not positive definite, as a
        network's usually is away from an exact minimum. The value used for
        ``influence_`` is ``damping_``.
    influence_params : "all", "last_layer" or list of str, default="all"
        For a skorch network: the parameters the influence is taken over (the
        others are held fixed): all trainable ones, those of the last layer
        (the usual choice for large pretrained networks), or a list of names
        from ``module_.named_parameters()``. Ignored by linear models.
    n_rounds : int, default=1
        Rounds of (influence, weights, refit). Later rounds recompute the
        influence at the refitted model to close the residual gap that the
        first-order step leaves.
    refit_start : {"auto", "stage1", "initial"}, default="auto"
        Where each weighted refit starts. ``"initial"``: from the estimator's
        own initial state, as the paper does (for a pretrained network, the
        same pretrained weights as stage 1). ``"stage1"``: from the stage-1
        solution, and along a list of ``alpha`` (largest first) from the
        nearest value already fitted: for a convex model the same solution,
        within the estimator's ``tol``, in fewer iterations; for a network,
        fine-tuning from stage 1. ``"auto"``: ``"stage1"`` for the linear
        models, ``"initial"`` otherwise. With ``n_jobs`` running the refits in
        parallel, each starts from stage 1.
    n_jobs : int, default=None
        Refits of a list of ``alpha`` run in parallel through joblib (``None``
        means 1 unless in a :func:`joblib.parallel_config` context; ``-1``
        means all processors), and so do blocks of training rows of the
        influence pass after the iHVP solves (the per-sample products
        ``s_i grad ell_i^T u_c``). Under
        ``joblib.parallel_config(backend="dask")`` both run on a Dask cluster
        (see :ref:`user_guide_scale_out`). For a network on the CPU the pass
        is one forward-mode product per row, which processes (loky, Dask)
        share out; threads take turns. A linear model's pass is one matrix
        product, kept in this process unless it is very large.
    tol : float, default=0.01
        Validation-accuracy tolerance when choosing ``alpha`` (``"auto"``:
        of the predicted held-out accuracy, then of the refitted model's
        validation accuracy; a list: of the refits'), in [0, 1]: 0.01 is one
        point. Without ``y_val`` there is no accuracy to keep, and a warning
        says so.
    influence_estimator : estimator, default=None
        A supported model (e.g. ``LogisticRegression()`` or a Pipeline ending in
        one) used only to compute the weights, when ``estimator`` itself has no
        differentiable loss (gradient boosting, random forests, ...).
        ``estimator`` is then refitted with those weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of ``alpha="auto"`` and the Gumbel noise (one seed
        for both, so that the selection scores the fitted surrogate; None
        gives a fixed one, so that refits are repeatable, as
        ``LogisticRegressionCV``'s folds), and LiSSA's mini-batches (None:
        fresh ones at every fit, as scikit-learn's estimators draw).
    verbose : int, default=0
        Print stage timings when > 0; progress bars when > 1.

    Attributes
    ----------
    estimator_ : estimator
        The model refitted with the fair weights; ``predict`` delegates to it.
        A skorch net is trained on 0/1 targets (1 for ``classes_[1]``), so
        its own ``predict`` returns those codes; ``predict`` maps them back.
    initial_estimator_ : estimator
        The model fitted with unit weights (stage 1), trained on the same
        targets as ``estimator_``.
    sample_weight_ : ndarray of shape (n_samples,)
        FairIF's weights (mean 1, non-negative). The final model was trained
        with ``sample_weight_ * sample_weight``.
    influence_ : ndarray of shape (n_samples, n_constraints)
        ``influence_[i, c]``: derivative of validation constraint ``c`` with
        respect to up-weighting training sample ``i``, at the stage-1 model.
    alpha_ : float
        The ``alpha`` used by ``estimator_``.
    damping_ : float
        The damping of the influence at the stage-1 model (``influence_``).
    solver_ : solver instance
        The fitted clone of the iHVP solver (``n_iter_`` ...); ``solver`` is
        never modified.
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
    cv_results_ : dict
        With a list or a float: lists with one entry per ``alpha`` refitted:
        ``"alpha"``, ``"val_accuracy"``, ``"val_gap"`` (mean absolute hard
        gap), ``"val_gaps"`` and ``"val_within_tol"`` (whether the
        validation accuracy fell from the unweighted model's by at most
        ``tol``: the alphas the choice was made among; all True without
        ``y_val``). With ``"auto"``: arrays with one entry per
        candidate: ``"alpha"``, ``"heldout_gap"`` and ``"heldout_gap_std"``
        (mean and spread over folds of the predicted held-out gap),
        ``"heldout_utility_change"`` (and ``_std``: the predicted change of
        the held-out accuracy), ``"weight_change"``, ``"admissible"`` and
        ``"val_accuracy_refitted"`` (the validation accuracy of each
        candidate refitted, NaN for the others), plus the floats
        ``"val_accuracy_unweighted"`` (the stage-1 model's),
        ``"val_accuracy_chosen"`` and ``"val_gap_chosen"`` (the refitted
        model's). The candidate of least predicted held-out gap among the
        admissible ones is refitted; if its validation accuracy falls by more
        than ``tol``, so are up to four larger ones, and ``alpha_`` is the
        smallest of them that keeps it. The scan of the candidates runs
        from the largest down and stops once three in a row have not lowered
        the least admissible held-out gap after it has fallen once (unless
        ``tol`` is worth fewer than 5 validation rows: then it scans them
        all): the candidates it did not reach are NaN (and not admissible).
        Accuracies are NaN without ``y_val``.
    classes_ : ndarray of shape (2,)
        The class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    AlphaPathDisplay : Plot ``cv_results_``: how ``alpha_`` was chosen.
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
        **BaseInfluenceReweighting._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like",
                  StrOptions({"auto"})],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "refit_start": [StrOptions({"auto", "stage1", "initial"})],
        # joblib has no meaning for n_jobs=0 (it raises only once it runs).
        "n_jobs": [Interval(Integral, None, -1, closed="right"),
                   Interval(Integral, 1, None, closed="left"), None],
        # A drop of accuracy: 1 admits any.
        "tol": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        estimator=None,
        *,
        objective="equalized_odds",
        alpha="auto",
        temperature=1.0,
        surrogate="softmax",
        solver="auto",
        damping="auto",
        influence_params="all",
        n_rounds=1,
        refit_start="auto",
        n_jobs=None,
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
        self.refit_start = refit_start
        self.n_jobs = n_jobs
        self.tol = tol
        self.influence_estimator = influence_estimator
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None, s_val=None, sample_weight=None,
            validation_set=None, **fit_params):
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
        validation_set : ValidationSet, default=None
            The validation data as one :class:`~sklearn_fairif.ValidationSet`,
            instead of ``X_val``, ``y_val`` and ``s_val``: cross-validation
            never slices it.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled). For a Pipeline, ``"<step>__<param>"`` as in ``Pipeline``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._clear_fitted()
        X, y, classes = self._validate_training_data(X, y)
        sample_weight = self._validate_sample_weight(sample_weight, X)
        alphas = self._validate_alphas()
        auto = isinstance(alphas, str)
        validation = self._validate_validation_data(X, X_val, y_val, s_val, classes,
                                                    validation_set)
        self._check_tol_applies(validation, alphas)
        times = {}
        with verbose_logging(self.verbose):
            model, influence_model = self._reweighted_models(
                X, y, classes, sample_weight, self._route_fit_params(fit_params),
                None if validation is None else validation.X,
            )
            if validation is not None:
                self._check_transformed(influence_model)
            with timed_stage(times, STAGE_INITIAL, self._log_name):
                initial = model.fit()
            if validation is None:
                fitted, weights, result, path = initial, np.ones(len(y)), None, None
            else:
                # One seed for the surrogate's noise and the folds, so that
                # the selection scores the constraints the weights are fitted to.
                seed = _seed(self.random_state)
                constraints = self._constraints(validation, seed)
                influence_fit = initial
                if influence_model is not model:
                    with timed_stage(times, STAGE_INITIAL, self._log_name):
                        influence_fit = influence_model.fit()
                result, alphas, selection, shift = self._influence_and_alphas(
                    influence_model, influence_fit, constraints, validation,
                    alphas, seed, times)
                refit = partial(self._alpha_path, model, influence_model,
                                constraints, result, initial=initial, times=times,
                                shift=None if influence_model is not model
                                else shift)
                path = refit(alphas)
                best, hard_before, acc_before = self._select(
                    path, model, initial, constraints, validation)
                if auto:
                    best, path = self._refit_finalists(
                        best, _larger_candidates(best["alpha"], selection),
                        refit, acc_before,
                        partial(self._score, model=model,
                                constraints=constraints, validation=validation))
                self._check_weights_moved(best, result)
                fitted, weights = best["estimator"], best["weights"]
                soft_after = self._soft_after(model, influence_model, constraints,
                                              best, times)

        self.classes_ = classes
        self._input_family = model.input_family
        self.stage_times_ = times
        self.initial_estimator_ = initial
        self.estimator_ = fitted
        self.sample_weight_ = weights
        if validation is None:
            return self
        self.influence_ = result.influence
        self.damping_ = result.damping
        self.solver_ = result.solver
        self.alpha_ = best["alpha"]
        self.constraint_names_ = list(constraints.names)
        self.cv_results_ = _cv_results(path, selection, best, acc_before,
                                       self.tol)
        self.validation_gaps_ = {
            "before": result.gaps,
            "predicted": best["predicted"],
            "after": soft_after,
            "hard_before": hard_before,
            "hard_after": best["hard"],
        }
        return self

    # ------------------------------------------------------------ fit steps
    def _validate_alphas(self):
        """``"auto"``, or ``alpha`` as a non-empty list of positive finite floats."""
        if isinstance(self.alpha, str):
            if self.alpha != "auto":
                raise ValueError(
                    f"alpha must be 'auto', a positive float or a list of them, "
                    f"got {self.alpha!r}."
                )
            return "auto"
        alphas = check_positive_values(self.alpha, "alpha")
        if len(np.unique(alphas)) < len(alphas):
            raise ValueError(
                f"alpha lists a value more than once ({alphas.tolist()}); each "
                "would be refitted again to the same model.")
        return alphas.tolist()

    def _check_tol_applies(self, validation, alphas):
        """Warn when ``alpha`` is chosen but no accuracy can be checked."""
        if validation is None or validation.y is not None or (
                not isinstance(alphas, str) and len(alphas) == 1):
            return
        warnings.warn(
            f"Without y_val no accuracy can be measured, so tol={self.tol:g} is "
            "ignored: alpha is chosen by the validation gap alone. Pass y_val "
            "to keep the accuracy within tol.",
            UserWarning,
            stacklevel=external_stacklevel(),
        )

    def _influence_and_alphas(self, model, fitted, constraints, validation, alphas,
                              seed, times):
        """Compute the stage-1 influence and decide which alphas to refit.

        With ``alpha="auto"`` the cross-fitting columns are solved in the
        same influence stage: in the same solve when it is one factorisation,
        else in a second, looser one (:func:`_selection_solver`); the
        selection leaves one alpha. Returns ``(result, alphas, selection or
        None, shift or None)``: ``shift(D)`` predicts the parameters' change
        for weight changes ``D`` (the refits' warm starts), where the solve
        is exact and the family can move its parameters.
        """
        with timed_stage(times, STAGE_INFLUENCE, self._log_name):
            adapter = model.adapter(fitted, **self._adapter_options())
            direct = self._solves_directly(adapter)
            # With the two transposed hooks, one parameter shift predicts the
            # refits' starts and every held-out margin.
            hooks = all(hasattr(adapter, hook)
                        for hook in ("influence_dot_t", "logit_jvp"))
            plan = self._crossfit_plan(alphas, validation, seed,
                                       len(model.sample_weight), adapter,
                                       margin_columns=not hooks, direct=direct)
            result, extra = self._influence_columns(model, fitted, constraints,
                                                    plan, adapter, direct)
        # Before the selection reads either pass.
        self._check_influence(result)
        _check_finite_influence(extra)
        shift = None
        if hooks and (direct or plan is not None):
            # Unit weights scale nothing: base_weight=None skips that pass.
            weight = model.sample_weight
            shift = partial(parameter_shift, adapter,
                            result.solver if direct else extra.solver,
                            damping=result.damping,
                            base_weight=None if np.all(weight == 1.0) else weight)
        # An iterative solve would cost a refit's start one more solve.
        warm_shift = (shift if direct and model.convex and model.displaceable
                      else None)
        if plan is not None:
            margins = None
            if not plan.margin_columns:
                # CG over column-by-column Hessian products solves each
                # column on its own.
                per_column = not direct and getattr(adapter, "columnwise_hvp", False)
                margins = _margin_shift(adapter, model.Xt_val, shift,
                                        per_column=per_column)
            with timed_stage(times, STAGE_SELECTION, self._log_name):
                selection = plan.select(extra.influence, extra.gaps, tol=self.tol,
                                        margin_influence=margins)
            _check_admissible(selection, self.tol)
            return result, [selection.alpha], selection, warm_shift
        if alphas == "auto":  # a validation set too small to cross-fit
            return result, [DEFAULT_ALPHA], None, warm_shift
        return result, alphas, None, warm_shift

    def _influence_columns(self, model, fitted, constraints, plan, adapter,
                           direct):
        """Return the influence results on ``constraints`` and on the plan's columns.

        One solve for both when it is one factorisation; else the plan's
        columns are a second solve, by :func:`_selection_solver`, at the
        first one's damping.
        """
        if plan is None or direct:
            stacked = constraints if plan is None else plan.stack(constraints)
            return _split_columns(
                self._compute_influence(model, fitted, stacked, adapter=adapter),
                constraints.n_constraints)
        result = self._compute_influence(model, fitted, constraints,
                                         adapter=adapter)
        extra = self._compute_influence(
            model, fitted, plan.constraints, adapter=adapter,
            solver=_selection_solver(result.solver), damping=result.damping)
        return result, extra

    def _crossfit_plan(self, alphas, validation, seed, n_samples, adapter, *,
                       margin_columns=True, direct=True):
        """Return the cross-fitting plan of ``alpha="auto"`` (None otherwise).

        Also None, with a warning, when the validation set is too small to
        give every fold each group x label cell the objective needs, and None
        when the iHVPs are iterative (not ``direct``) for an adapter without
        the transposed hooks (``margin_columns``): there every tracked
        validation row's margin would be one more right-hand side of every
        iteration. fit then uses ``DEFAULT_ALPHA``.
        """
        if alphas != "auto":
            return None
        if margin_columns and not direct:
            logger.info(
                "alpha='auto' with an iterative iHVP solver needs an adapter "
                "with influence_dot_t and logit_jvp; %s has not both, so "
                "alpha=%g is used. Pass a list of alphas to choose among them "
                "by refits, or solver='exact'.",
                type(adapter).__name__, DEFAULT_ALPHA)
            return None
        return make_crossfit_plan(
            self.objective, validation.y, validation.s,
            random_state=seed, temperature=self.temperature,
            surrogate=self.surrogate, n_samples=n_samples,
            margin_columns=margin_columns,
        )

    def _constraints(self, validation, seed):
        return FairnessConstraints(
            self.objective, validation.y, validation.s,
            temperature=self.temperature, surrogate=self.surrogate,
            random_state=seed,
        )

    def _alpha_path(self, model, influence_model, constraints, result, alphas,
                    initial, times, shift=None):
        """One path entry per alpha, in the order of ``alphas``.

        Sequentially, the refits run from the largest alpha (weights nearest
        1) to the smallest, each warm-started from the previous one when
        ``refit_start`` allows; in parallel, each from stage 1. With ``shift``
        the start is moved by the first-order change of the parameters
        between the two weightings (see :meth:`_reweight`).
        """
        warm = self.refit_start == "stage1" or (
            self.refit_start == "auto" and model.convex)
        order = sorted(range(len(alphas)), key=lambda i: -alphas[i])
        start = (initial, np.ones(len(model.sample_weight))) if warm else None
        args = (model, influence_model, constraints, result)
        if len(alphas) > 1 and effective_n_jobs(self.n_jobs) > 1:
            done = Parallel(n_jobs=self.n_jobs)(
                delayed(self._reweight)(*args, alphas[i], start, shift)
                for i in order)
        else:
            done = []
            for i in order:
                done.append(self._reweight(*args, alphas[i], start, shift))
                entry = done[-1][0]
                start = (entry["estimator"], entry["weights"]) if warm else None
        path = [None] * len(alphas)
        for i, (entry, entry_times) in zip(order, done, strict=True):
            path[i] = entry
            for stage, seconds in entry_times.items():
                times[stage] = times.get(stage, 0.0) + seconds
        return path

    def _reweight(self, model, influence_model, constraints, result, alpha,
                  warm_from, shift=None):
        """Weights for one alpha: ``n_rounds`` of (weights, refit, influence).

        ``warm_from`` is None (a cold refit) or ``(fitted, its weights)``: the
        refit starts from ``fitted``, moved by ``shift(weights - its
        weights)`` when ``shift`` is given (a convex objective: any start
        reaches the same solution, a closer one in fewer iterations).
        Returns the path entry and the time spent per stage (joblib workers
        cannot add to the caller's dict).
        """
        times = {}
        weights = np.ones(len(model.sample_weight))
        influence, gaps = result.influence, result.gaps
        for round_ in range(self.n_rounds):
            if round_:
                with timed_stage(times, STAGE_REFIT, self._log_name, alpha=alpha):
                    fitted = influence_model.fit(weights)
                with timed_stage(times, STAGE_INFLUENCE, self._log_name):
                    later = self._compute_influence(
                        influence_model, fitted, constraints, weights)
                influence, gaps = later.influence, later.gaps
            with timed_stage(times, STAGE_WEIGHTS, self._log_name):
                weights, predicted = solve_weights(
                    influence, gaps, alpha, current_weights=weights
                )
        with timed_stage(times, STAGE_REFIT, self._log_name, alpha=alpha):
            start = None
            if warm_from is not None:
                start, start_weights = warm_from
                if shift is not None:
                    start = model.displaced(start, shift(weights - start_weights))
            fitted = model.fit(weights, warm_from=start)
        entry = {"alpha": alpha, "weights": weights, "predicted": predicted,
                 "estimator": fitted}
        return entry, times

    def _select(self, path, model, initial, constraints, validation):
        """Score every alpha's refit on the validation set.

        Returns the chosen entry, the hard gaps of the unweighted model and
        its validation accuracy.
        """
        y_before = model.validation_predictions(initial)
        hard_before = constraints.hard_values(y_before)
        acc_before = _accuracy(y_before, validation.y)
        self._score(path, model=model, constraints=constraints,
                    validation=validation)
        return _choose_alpha(path, acc_before, self.tol), hard_before, acc_before

    @staticmethod
    def _score(entries, *, model, constraints, validation):
        """Add each refit's validation hard gaps, mean gap and accuracy."""
        for entry in entries:
            y_pred = model.validation_predictions(entry["estimator"])
            entry["hard"] = constraints.hard_values(y_pred)
            entry["accuracy"] = _accuracy(y_pred, validation.y)
            entry["gap"] = float(np.mean(np.abs(entry["hard"])))

    def _refit_finalists(self, best, above, refit, acc_before, score):
        """``alpha="auto"``: check the choice by its refit, move up if it fails.

        The selection predicts the held-out accuracy to first order; a
        network's refit, another training run, can lose more than predicted
        (and the fallback of a small validation set predicts nothing). When
        the refitted validation accuracy falls by more than ``tol``, up to
        :data:`MAX_FINALIST_REFITS` of the larger candidates ``above``
        (increasing) are refitted in search of the smallest that keeps it
        (:func:`~sklearn_fairif._alpha.first_within_budget`). Returns the
        chosen entry and every refitted one.
        """
        if np.isnan(acc_before) or _keeps(best["accuracy"], acc_before, self.tol):
            return best, [best]
        logger.info(
            "alpha='auto': the refit at alpha=%g lost %.3g of validation "
            "accuracy (tol=%g); refitting up to %d larger candidates.",
            best["alpha"], acc_before - best["accuracy"], self.tol,
            min(MAX_FINALIST_REFITS, len(above)))
        tried = [best]

        def within_budget(i):
            tried.append(refit([float(above[i])])[0])
            score(tried[-1:])
            return _keeps(tried[-1]["accuracy"], acc_before, self.tol)

        first = first_within_budget(len(above), within_budget,
                                    MAX_FINALIST_REFITS)
        tried.sort(key=lambda e: e["alpha"])
        if first is not None:
            return next(e for e in tried if e["alpha"] == above[first]), tried
        # Ties go to the larger alpha: the smaller weight change.
        chosen = max(tried, key=lambda e: (e["accuracy"], e["alpha"]))
        warnings.warn(
            f"alpha='auto': every refitted candidate lost more than tol={self.tol:g} "
            f"of validation accuracy (alpha={best['alpha']:g} and "
            f"{len(tried) - 1} larger); the most accurate, "
            f"alpha={chosen['alpha']:g}, is used.",
            UserWarning,
            stacklevel=external_stacklevel(),
        )
        return chosen, tried

    def _check_weights_moved(self, best, result):
        """Warn when the weights stay at 1 although the influence is not zero."""
        moved = np.max(np.abs(best["weights"] - 1.0))
        if moved < 1e-6 and np.abs(result.influence).max() > 0:
            largest_gap = np.abs(result.gaps).max()
            why = (f"the soft validation gaps are already zero (at most "
                   f"{largest_gap:.1e}), so there is nothing to close"
                   if largest_gap < 1e-9 else
                   "the influences are tiny (the soft rates barely move with "
                   "the margins: saturated where the validation margins are "
                   f"far from 0 on the scale of temperature={self.temperature:g}, "
                   "as on separable data, or flat where the temperature is "
                   f"much larger than them) or alpha={best['alpha']:g} is too "
                   "large for them")
            warnings.warn(
                f"The weights moved by at most {moved:.1e} from 1, so the refit is "
                f"the unweighted model: {why}.",
                UserWarning,
                stacklevel=external_stacklevel(),
            )

    def _soft_after(self, model, influence_model, constraints, best, times):
        """Soft constraint values after the chosen refit.

        Measured on the model the influence was computed for, since that is
        what the first-order prediction should match: with
        ``influence_estimator``, one more refit of it (for the chosen alpha
        only).
        """
        fitted = best["estimator"]
        if influence_model is not model:
            with timed_stage(times, STAGE_REFIT, self._log_name,
                             alpha=best["alpha"]):
                fitted = influence_model.fit(best["weights"])
        return constraints.values(influence_model.validation_margins(fitted))


def _check_admissible(selection, tol):
    """Warn when no candidate kept the predicted held-out accuracy within ``tol``."""
    if not selection.cv_results["admissible"].any():
        drop = -np.nanmax(selection.cv_results["heldout_utility_change"])
        warnings.warn(
            f"alpha='auto': every candidate's predicted held-out accuracy fell "
            f"by more than tol={tol:g} (the least by {drop:.3g}), so the "
            f"largest, alpha={selection.alpha:g}, the least reweighting, is "
            "used. Raise tol, or use a larger validation set: on a small one "
            "the held-out accuracy is noisy.",
            UserWarning,
            stacklevel=external_stacklevel(),
        )


def _selection_solver(solver):
    """Return the solver of the selection's own iHVPs, given the fit's iterative one.

    The cells' influence and the candidates' parameter shifts only rank
    alphas: a conjugate-gradients solve stops at :data:`SELECTION_CG_TOL`
    (a clone; other solvers are kept as they are).
    """
    if isinstance(solver, CGSolver) and solver.tol < SELECTION_CG_TOL:
        return clone(solver).set_params(tol=SELECTION_CG_TOL)
    return solver


def _split_columns(result, k):
    """Split an influence result into the first ``k`` columns and the rest."""
    # A copy: a view would keep the whole stacked matrix alive in influence_.
    first = replace(result, influence=result.influence[:, :k].copy(),
                    gaps=result.gaps[:k])
    rest = replace(result, influence=result.influence[:, k:], gaps=result.gaps[k:])
    return first, rest


def _margin_shift(adapter, X_val, shift, *, per_column):
    """Return the validation margins with their first-order change under ``shift``."""
    def margins_change(D):
        return adapter.logit_jvp(X_val, shift(D))

    z = adapter.decision_function(X_val)
    if not np.isfinite(z).all():
        raise ValueError(
            "The stage-1 model's margins (decision_function) on X_val are not "
            "finite: a feature of X_val is so large that they overflow. Scale "
            "the features.")
    return MarginShift(z, margins_change, per_column=per_column)


def _cv_results(path, selection, best, acc_before, tol):
    """``cv_results_``: the refitted path, or the cross-fitted selection."""
    refitted = {
        "alpha": [e["alpha"] for e in path],
        "val_accuracy": [e["accuracy"] for e in path],
        "val_gap": [e["gap"] for e in path],
        "val_gaps": [e["hard"] for e in path],
        # By the rule that chose among them (no labels: the gap alone).
        "val_within_tol": [bool(np.isnan(acc_before)
                                or _keeps(e["accuracy"], acc_before, tol))
                           for e in path],
    }
    if selection is None:
        return refitted
    # The candidates are judged by cross-fitted predictions; the chosen one
    # (and any finalist its check refitted) also by its refit's validation
    # numbers (in-sample for the gap).
    alphas = selection.cv_results["alpha"]
    val_accuracy = np.full(len(alphas), np.nan)
    for entry in path:
        val_accuracy[alphas == entry["alpha"]] = entry["accuracy"]
    return {**selection.cv_results,
            "val_accuracy_refitted": val_accuracy,
            "val_accuracy_unweighted": acc_before,
            "val_accuracy_chosen": best["accuracy"],
            "val_gap_chosen": best["gap"]}


def _larger_candidates(alpha, selection):
    """Return the scanned alphas above ``alpha`` (without a selection: the grid)."""
    if selection is None:
        grid = DEFAULT_ALPHAS
    else:
        grid = selection.cv_results["alpha"][
            np.isfinite(selection.cv_results["heldout_gap"])]
    return grid[grid > alpha]


def _accuracy(y_pred01, y_val):
    return np.nan if y_val is None else float(np.mean(y_pred01 == y_val))


def _choose_alpha(path, acc_before, tol):
    """Smallest validation gap among alphas within ``tol`` of the base accuracy."""
    if np.isnan(acc_before):  # no labels (demographic parity): gap only
        return min(path, key=lambda e: e["gap"])
    admissible = [e for e in path if _keeps(e["accuracy"], acc_before, tol)]
    if not admissible:
        if len(path) > 1:
            warnings.warn(
                f"No alpha kept the validation accuracy within tol={tol} of the "
                "unweighted model's; using the most accurate one.",
                UserWarning,
                stacklevel=external_stacklevel(),
            )
        return max(path, key=lambda e: e["accuracy"])
    return min(admissible, key=lambda e: (e["gap"], -e["alpha"]))
