"""IFFairClassifier: influence-disparity reweighting *during* training (IFFair).

The estimator's ``fit`` only schedules: the shared machinery (validation,
routing, the owner of the reweighted model, the influence service) lives in
:mod:`._base`, the state across updates in :mod:`._iffair_loop` and the pure
update rule in :mod:`._iffair_rule`.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseInfluenceReweighting
from ._iffair_loop import IFFairLoop, iffair_constraints
from .utils._logging import (
    STAGE_INFLUENCE,
    STAGE_TRAINING,
    STAGE_UPDATES,
    timed_stage,
    verbose_logging,
)
from .utils._warnings import external_stacklevel

# Defaults chosen on the *validation* splits of Adult, COMPAS and German
# (logistic regression, seeds 0 and 1, step sizes 0.1 / 0.2 / 0.5): 0.2 closes
# more of the gap than 0.1 on COMPAS, while 0.5 overruns the utility guard.
DEFAULT_STEP_SIZE = 0.2
DEFAULT_N_UPDATES = 10
DEFAULT_WEIGHT_BOUNDS = (0.0, 10.0)
DEFAULT_UTILITY_TOLERANCE = 0.01


class IFFairClassifier(BaseInfluenceReweighting):
    """Reweight the training data during training by influence disparity (IFFair).

    IFFair (arXiv 2512.07249) is a pre-processing method: it changes neither
    the model, nor the features, nor the decision rule, only the weights of
    the training samples, and it adjusts them *while* the model trains. At
    each update, it measures with influence functions how up-weighting each
    training sample would move the soft rate of every validation group, takes
    the difference between the worse-off and the better-off group (the
    sample's *influence disparity*), moves the weights multiplicatively in
    the direction that closes the gap, skips or scales back the changes
    predicted to cost too much validation accuracy, renormalises the weights
    to mean 1 and trains on. Only the validation set carries group labels;
    ``predict`` needs none.

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
        The group rates whose gaps are closed: TPR and TNR, TPR only, accuracy
        (``"accuracy_parity"`` and ``"error_rate_parity"`` are the same gap:
        error rate = 1 - accuracy), or the selection rate (needs no
        ``y_val``). Each rate's gap is its largest minus its smallest group
        value on the validation set.
    variant : {"uniform", "diverse"}, default="diverse"
        ``"uniform"``: every selected sample's weight is multiplied by
        ``exp(step_size)`` or ``exp(-step_size)``, by the sign of its
        disparity ``d_i``. ``"diverse"``: by ``exp(step_size * d_i /
        rms(d))``, a step proportional to the disparity. Both move the
        log-weights by a vector of the same Euclidean norm,
        ``step_size * sqrt(n)``.
    step_size : float, default=0.2
        Size of the multiplicative step in log-weight units, see ``variant``.
        The step is then shortened when it is predicted to overshoot (see
        the user guide, :ref:`user_guide_iffair_update`).
    update_every : int, default=1
        For a skorch network: epochs between weight updates. Ignored by
        scikit-learn models, which are refitted after every update.
    n_updates : int, default=10
        Number of weight updates. A scikit-learn model alternates ``n_updates``
        updates and warm-started refits (stopping early once an update leaves
        the weights unchanged); a network gets one update every
        ``update_every`` epochs until ``n_updates`` are done, then trains to
        ``max_epochs`` with the last weights.
    weight_bounds : tuple of (float, float), default=(0.0, 10.0)
        Lower and upper bound of every weight, ``lower <= 1 <= upper``
        (``upper`` may be ``np.inf``). The weights are kept within them and at
        mean 1 by the renormalisation after every update.
    utility_tolerance : float or None, default=0.01
        The utility guard: how far the validation accuracy may fall below its
        value at the first update, in accuracy units. At each update, the
        fall of the validation soft accuracy (temperature 0.25, which tracks
        the hard accuracy) is *predicted* by its influence; weight changes
        that would exceed the remaining budget are skipped, those with the
        highest predicted accuracy cost per unit of predicted gap reduction
        first, and the step is then scaled back. The budget is re-measured at
        every update, so an overrun makes the next update skip the changes
        that cost accuracy. ``None`` disables the guard, which is also off
        without ``y_val``.
    temperature : float, default=1.0
        Temperature ``tau`` of the soft rates ``sigmoid(z / tau)``.
    surrogate : {"softmax", "gumbel"}, default="softmax"
        Soft rate: the softmax probability of the counted class, or the same
        with Gumbel noise averaged over draws.
    solver : {"auto", "exact", "cg", "lissa"} or solver instance, default="auto"
        How ``H^-1 grad g`` is solved, as in :class:`FairIFClassifier`.
    damping : float or "auto", default="auto"
        Added to the diagonal of the Hessian of the mean training objective;
        ``"auto"`` as in :class:`FairIFClassifier` (raised tenfold while the
        damped Hessian is not positive definite, as a network's mid-training
        usually is).
    influence_params : "all", "last_layer" or list of str, default="all"
        For a skorch network: the parameters the influence is taken over.
        Ignored by linear models.
    influence_estimator : estimator, default=None
        A supported model that the updates are computed and refitted with,
        when ``estimator`` has no differentiable loss; ``estimator`` is then
        fitted once with the final weights.
    random_state : int, RandomState instance or None, default=None
        Seeds the Gumbel noise and LiSSA's mini-batches.
    verbose : int, default=0
        Print one line per update when > 0; progress bars when > 1.

    Attributes
    ----------
    estimator_ : estimator
        The model trained with the dynamic weights; ``predict`` delegates to it.
    sample_weight_ : ndarray of shape (n_samples,)
        The weights after the last update (mean 1, within ``weight_bounds``),
        times which the user's ``sample_weight`` trained the final model: a
        linear model is fitted with them last; a network trained with each
        row of ``weight_trajectory_`` in turn, and with these in its last
        epochs.
    weight_trajectory_ : ndarray of shape (n_updates_ + 1, n_samples)
        The weights before the first update (all ones) and after each update.
    validation_gaps_ : ndarray of shape (n_updates_ + 1, n_rates)
        Hard validation gap of each rate (largest minus smallest group rate,
        0/1 predictions) of the model trained with each row of
        ``weight_trajectory_``: for a linear model, the fit with those
        weights; for a network, at the epoch of the next update, and at the
        end of training for the last row.
    gap_names_ : list of str
        The rate of each column of ``validation_gaps_``, e.g. ``["tpr", "tnr"]``.
    history_ : dict of list
        Per evaluation (``n_updates_ + 1`` entries, as the rows above):
        ``"epoch"`` (network epoch, None for linear models), ``"soft_gaps"``,
        ``"group_rates"`` (soft rate of every validation group, named by
        ``group_rate_names_``), ``"val_accuracy"`` and ``"val_soft_accuracy"``
        (NaN without ``y_val``). Per update (``n_updates_`` entries):
        ``"predicted_gap_change"`` (first-order change of the summed soft
        gaps), ``"predicted_accuracy_change"`` (of the soft accuracy),
        ``"accuracy_budget"`` (how much it was allowed to fall, inf without
        guard), ``"n_skipped"`` (changes skipped by the guard) and
        ``"step_scale"`` (the scale-back factor, 1 for a full step).
    group_rate_names_ : list of str
        One name per validation group and rate, e.g. ``"tpr[0]"``.
    influence_ : ndarray of shape (n_samples, n_group_rates)
        At the last update: derivative of each validation group's soft rate
        with respect to up-weighting each training sample.
    disparity_ : ndarray of shape (n_samples,)
        At the last update: the influence on the worse-off group's rate minus
        that on the better-off group's (averaged over rates weighted by their
        gaps, see :ref:`user_guide_iffair_update`). Positive: up-weighting
        the sample is predicted to close the gaps.
    n_updates_ : int
        Number of updates made.
    stage_times_ : dict of float
        Wall time in seconds spent training (all fits or epochs), computing
        influences, and in the weight updates themselves.
    classes_ : ndarray of shape (2,)
        The class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    FairIFClassifier : Solves for the weights once, from the unweighted model.

    Notes
    -----
    The update rule (per-group soft-rate influences, the disparity between
    the worse-off and the better-off group, the damped multiplicative step,
    the mean-1 projection and the utility guard) and which of its parts are
    our reconstruction of IFFair are described in the user guide
    (:ref:`user_guide_iffair`). For a skorch network, the weights ride with
    ``X`` through skorch's batches and change at epoch ends; optimizer
    state, learning-rate schedules and the user's callbacks are untouched.

    Without ``X_val`` the estimator is fitted with unit weights, so the class
    also behaves as a plain classifier (e.g. under ``check_estimator``).

    References
    ----------
    "IFFair: Influence Function-driven Sample Reweighting for Fair
    Classification". arXiv:2512.07249.

    Examples
    --------
    >>> from sklearn_fairif import IFFairClassifier
    >>> from sklearn_fairif.datasets import make_biased_classification
    >>> X, y, s = make_biased_classification(2000, bias="group_size", random_state=0)
    >>> clf = IFFairClassifier(n_updates=5)
    >>> clf.fit(X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:], s_val=s[1500:])
    IFFairClassifier(n_updates=5)
    >>> clf.weight_trajectory_.shape
    (6, 1500)
    >>> bool(clf.validation_gaps_[-1].sum() < clf.validation_gaps_[0].sum())
    True
    """

    _parameter_constraints = {
        **BaseInfluenceReweighting._parameter_constraints,
        "variant": [StrOptions({"uniform", "diverse"})],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "update_every": [Interval(Integral, 1, None, closed="left")],
        "n_updates": [Interval(Integral, 1, None, closed="left")],
        "weight_bounds": [tuple, list],
        "utility_tolerance": [Interval(Real, 0, None, closed="left"), None],
    }

    _log_name = "IFFair"

    def __init__(
        self,
        estimator=None,
        *,
        objective="equalized_odds",
        variant="diverse",
        step_size=DEFAULT_STEP_SIZE,
        update_every=1,
        n_updates=DEFAULT_N_UPDATES,
        weight_bounds=DEFAULT_WEIGHT_BOUNDS,
        utility_tolerance=DEFAULT_UTILITY_TOLERANCE,
        temperature=1.0,
        surrogate="softmax",
        solver="auto",
        damping="auto",
        influence_params="all",
        influence_estimator=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.objective = objective
        self.variant = variant
        self.step_size = step_size
        self.update_every = update_every
        self.n_updates = n_updates
        self.weight_bounds = weight_bounds
        self.utility_tolerance = utility_tolerance
        self.temperature = temperature
        self.surrogate = surrogate
        self.solver = solver
        self.damping = damping
        self.influence_params = influence_params
        self.influence_estimator = influence_estimator
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None, s_val=None, sample_weight=None,
            validation_set=None, **fit_params):
        """Train while reweighting by influence disparity on the validation groups.

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
            Validation labels (needed by every objective but demographic
            parity, and by the utility guard).
        s_val : array-like of shape (n_val,), default=None
            Validation group labels (two or more groups).
        sample_weight : array-like of shape (n_samples,), default=None
            User weights: IFFair's weights multiply them, and the influence is
            computed for that objective.
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
        bounds = self._check_weight_bounds()
        sample_weight = self._validate_sample_weight(sample_weight, X)
        validation = self._validate_validation_data(X, X_val, y_val, s_val, classes,
                                                    validation_set)
        times = {STAGE_TRAINING: 0.0, STAGE_INFLUENCE: 0.0, STAGE_UPDATES: 0.0}
        run = None
        with verbose_logging(self.verbose):
            model, influence_model = self._reweighted_models(
                X, y, classes, sample_weight, self._route_fit_params(fit_params),
                None if validation is None else validation.X,
            )
            if validation is None:
                with timed_stage(times, STAGE_TRAINING, self._log_name):
                    fitted = model.fit()
            else:
                self._check_transformed(influence_model)
                groups, constraints = iffair_constraints(
                    self.objective, validation.y, validation.s,
                    temperature=self.temperature, surrogate=self.surrogate,
                    random_state=self.random_state,
                )
                loop = IFFairLoop(
                    groups, validation.y, len(y), variant=self.variant,
                    step_size=self.step_size, bounds=bounds,
                    utility_tolerance=self.utility_tolerance,
                )
                if influence_model is model and model.trains_by_epochs:
                    fitted, last = self._train_net(model, loop, constraints, times)
                else:
                    fitted, last = self._alternate(influence_model, loop,
                                                   constraints, times)
                    if influence_model is not model:
                        with timed_stage(times, STAGE_TRAINING, self._log_name):
                            fitted = model.fit(loop.weights)
                run = loop.history()
                moved = np.max(np.abs(run.trajectory - 1.0))
                if run.n_updates and moved < 1e-6:
                    warnings.warn(
                        f"The weights moved by at most {moved:.1e} from 1 over "
                        f"{run.n_updates} updates, so the model is the unweighted "
                        f"one: with temperature={self.temperature:g} the soft "
                        "rates are flat or saturated on the model's margins (use "
                        "a temperature near their scale, e.g. 1), or step_size="
                        f"{self.step_size:g} is too small.",
                        UserWarning,
                        stacklevel=external_stacklevel(),
                    )
                if run.n_updates == 0:
                    warnings.warn(
                        "IFFair made no weight update, so the model trained with "
                        f"unit weights: update_every={self.update_every} leaves no "
                        "update before the network's last epoch (max_epochs="
                        f"{model.final.max_epochs}). Lower update_every or raise "
                        "max_epochs.",
                        UserWarning,
                        stacklevel=external_stacklevel(),
                    )

        self.classes_ = classes
        self._input_family = model.input_family
        self.stage_times_ = times
        self.estimator_ = fitted
        if run is None:
            self.sample_weight_ = np.ones(len(y))
            self.weight_trajectory_ = self.sample_weight_[None].copy()
            self.n_updates_ = 0
            return self
        self.sample_weight_ = run.weights
        self.weight_trajectory_ = run.trajectory
        self.n_updates_ = run.n_updates
        self.gap_names_ = run.gap_names
        self.group_rate_names_ = run.group_rate_names
        self.validation_gaps_ = run.validation_gaps
        self.history_ = run.history
        self.influence_ = run.influence
        self.disparity_ = run.disparity
        if last is not None:
            self.damping_ = last.damping
            self.solver_ = last.solver
        return self

    # ------------------------------------------------------------ fit steps
    def _check_weight_bounds(self):
        bounds = self.weight_bounds
        try:
            lower, upper = (float(b) for b in bounds)
        except (TypeError, ValueError):
            lower = upper = np.nan
        if not (0 <= lower <= 1 <= upper and lower < upper):
            raise ValueError(
                "weight_bounds must be (lower, upper) with 0 <= lower <= 1 <= "
                f"upper and lower < upper, got {bounds!r}."
            )
        return lower, upper

    def _update(self, model, loop, constraints, fitted, times, epoch=None):
        """Influences at ``fitted``, one weight update; return (moved, result)."""
        with timed_stage(times, STAGE_INFLUENCE, self._log_name):
            result = self._compute_influence(model, fitted, constraints,
                                             loop.weights)
        if not loop.updates:  # once per fit, on the first influence pass
            self._check_influence(result, slice(loop.n_groups))
        with timed_stage(times, STAGE_UPDATES, self._log_name):
            moved = loop.update(result.influence, result.gaps,
                                model.validation_predictions(fitted), epoch)
        return moved, result

    def _evaluate(self, model, loop, constraints, fitted, epoch=None):
        values = constraints.values(model.validation_margins(fitted))
        loop.evaluate(values, model.validation_predictions(fitted), epoch)

    def _alternate(self, model, loop, constraints, times):
        """Alternate weight updates and warm-started refits (scikit-learn models).

        Returns the final model and the last influence result.
        """
        with timed_stage(times, STAGE_TRAINING, self._log_name):
            fitted = model.fit()
        result = None
        for _ in range(self.n_updates):
            moved, result = self._update(model, loop, constraints, fitted, times)
            if not moved:  # a refit would reproduce the same model
                loop.repeat_last_evaluation()
                return fitted, result
            with timed_stage(times, STAGE_TRAINING, self._log_name):
                fitted = model.fit(loop.weights, warm_from=fitted)
        self._evaluate(model, loop, constraints, fitted)
        return fitted, result

    def _train_net(self, model, loop, constraints, times):
        """Train a skorch net once, updating the weights at epoch ends."""
        results = []

        def on_epoch_end(net):
            epoch = len(net.history)
            if (len(results) >= self.n_updates or epoch % self.update_every
                    or epoch >= net.max_epochs):
                return None
            fitted = model.assemble(net)
            _, result = self._update(model, loop, constraints, fitted, times,
                                     epoch=epoch)
            results.append(result)
            net.history.record("iffair_val_gap",
                               float(np.sum(loop.evaluations[-1]["hard_gaps"])))
            return loop.weights

        with timed_stage(times, STAGE_TRAINING, self._log_name):
            fitted = model.fit_with_updates(on_epoch_end, self._log_name)
        # Time spent in the callback is not training time.
        times[STAGE_TRAINING] -= times[STAGE_INFLUENCE] + times[STAGE_UPDATES]
        self._evaluate(model, loop, constraints, fitted,
                       epoch=len(model.final_step(fitted).history))
        return fitted, results[-1] if results else None
