"""IFFairClassifier: influence-disparity reweighting *during* training (IFFair).

The influence machinery (adapters, iHVP solvers, ``influence_scores``), the
validation of the inputs, the metadata routing and the delegation to the fitted
estimator are FairIFClassifier's; this module adds only IFFair's update rule and
the two ways of interleaving it with training.
"""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import brentq
from sklearn.base import (
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from ._base import BaseInfluenceReweighting, _Timer
from ._objectives import OBJECTIVES, FairnessConstraints, stack_constraints
from ._staging import StagedModel
from .adapters import LinearAdapter
from .adapters._base import _is_skorch_net

# Defaults chosen on the *validation* splits of Adult, COMPAS and German
# (logistic regression, seeds 0 and 1, step sizes 0.1 / 0.2 / 0.5): 0.2 closes
# more of the gap than 0.1 on COMPAS, while 0.5 overruns the utility guard.
DEFAULT_STEP_SIZE = 0.2
DEFAULT_N_UPDATES = 10
DEFAULT_WEIGHT_BOUNDS = (0.0, 10.0)
DEFAULT_UTILITY_TOLERANCE = 0.01

# Temperature of the soft accuracy the utility guard predicts. At 1 the soft
# accuracy of these low-confidence models is nearly linear in the margins, and
# the guard, which picks the changes it keeps, found changes that cost up to 7
# points of (hard) validation accuracy on COMPAS for 1 point of soft accuracy;
# at 0.25, with utility_tolerance=0.01, the validation accuracy fell by at most
# about 2 points on Adult, COMPAS and German.
UTILITY_TEMPERATURE = 0.25

# Every first-order prediction is trusted for half its length: the step goes
# half-way to the minimiser of the predicted squared gaps, and spends at most
# half of the remaining accuracy budget. Full steps oscillated around zero gap
# on Adult and overran the budget on COMPAS by a factor 2.
_DAMPING = 0.5


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
        Notes).
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
        gaps, see Notes). Positive: up-weighting the sample is predicted to
        close the gaps.
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
    **What is IFFair's and what is ours.** The public description of IFFair
    fixes: reweighting training samples only, by their *influence disparity*
    on different groups, *dynamically during training*; the metrics
    (demographic parity, equalized odds, equal opportunity, error-rate
    parity); logistic regression and neural networks. Its update rule is not
    public. The following are our reconstruction:

    * the group quantity: each group's soft rate of the objective (the same
      surrogate as :class:`FairIFClassifier`, per group instead of per
      difference), rather than a group loss;
    * worse-off / better-off: per rate, the groups with the lowest and
      highest current soft rate; with several rates (equalized odds), the
      per-rate disparities weighted by their gaps (the gradient of half the
      summed squared gaps);
    * the two variants' exact form (multiplicative steps in log-weight space
      with equal norms), the damped line search on the predicted gaps, the
      mean-1 projection and the bounds;
    * the utility guard: influence on the validation soft accuracy at
      temperature 0.25, a budget relative to the first update and
      re-measured at each, greedy skipping by cost per unit of benefit, then
      a scale-back;
    * the schedule: for scikit-learn models, alternating updates and
      warm-started refits; for networks, an update every ``update_every``
      epochs at the current (not converged) parameters.

    **The update.** Let ``a_{i,g}`` be the influence of up-weighting training
    sample ``i`` on the soft rate ``F_g`` of validation group ``g`` (computed
    as in :class:`FairIFClassifier`: ``-(1/n) grad F_g^T H^-1 grad ell_i``,
    with the Hessian at the current parameters and weights). Per rate ``r``,
    the worse-off group ``w_r`` has the lowest rate and the better-off group
    ``b_r`` the highest; with the gap ``G_r = F_{b_r} - F_{w_r}``, the
    per-rate disparity ``D_{i,r} = a_{i,w_r} - a_{i,b_r}`` is
    ``-dG_r/dw_i`` and the disparity is ``d_i = sum_r G_r D_{i,r} / sum_r
    G_r``. The proposal is ``w_i exp(step_size * m_i)`` with ``m_i =
    sign(d_i)`` (uniform) or ``d_i / rms(d)`` (diverse). The utility guard
    then skips changes (see ``utility_tolerance``), and the weights are
    projected back to mean 1 within ``weight_bounds`` (``clip(c w, lower,
    upper)`` with ``c`` solving the mean). Finally the step ``delta`` from
    the old to the new weights is scaled by ``t <= 1``: half-way to the
    minimiser of the predicted ``sum_r (G_r - t delta . D_r)**2`` (a gap
    pushed past zero counts again), and less if the predicted accuracy fall
    ``-t delta . a_acc`` would exceed half the remaining budget. A step
    between two weight vectors of mean 1 within the bounds keeps both
    properties at any ``t``.

    **Networks.** The weights ride with ``X`` through skorch's batches (as in
    :class:`FairIFClassifier`); a temporary epoch-end callback recomputes the
    influences at the current parameters and writes the new weights into
    that array in place, so the next epoch trains with them. Optimizer state,
    learning-rate schedules and the user's callbacks are untouched.

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
        "estimator": [HasMethods(["fit", "predict"]), None],
        "objective": [StrOptions(set(OBJECTIVES))],
        "variant": [StrOptions({"uniform", "diverse"})],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "update_every": [Interval(Integral, 1, None, closed="left")],
        "n_updates": [Interval(Integral, 1, None, closed="left")],
        "weight_bounds": [tuple, list],
        "utility_tolerance": [Interval(Real, 0, None, closed="left"), None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "surrogate": [StrOptions({"softmax", "gumbel"})],
        "solver": [StrOptions({"auto", "exact", "cg", "lissa"}), HasMethods(["solve"])],
        "damping": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "influence_params": [StrOptions({"all", "last_layer"}), list],
        "influence_estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

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

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, X_val=None, y_val=None, s_val=None, sample_weight=None,
            **fit_params):
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
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled). For a Pipeline, ``"<step>__<param>"`` as in ``Pipeline``.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = self._validate_training_data(X, y)
        bounds = self._check_weight_bounds()
        sample_weight = _check_sample_weight(sample_weight, X)
        self.stage_times_ = {"training": 0.0, "influence": 0.0, "updates": 0.0}
        model = StagedModel(
            self._get_estimator(), X, y, X_val, self._route_fit_params(fit_params),
            sample_weight=sample_weight,
        )
        if X_val is None:
            return self._fit_unweighted(model, y_val, s_val, sample_weight)

        y_val, s_val = self._validate_validation_data(X, X_val, y_val, s_val)
        influence_model = self._influence_model(model, X, y, X_val, sample_weight)
        reweighter = _Reweighter(self, influence_model, y_val, s_val, sample_weight,
                                 bounds)
        if influence_model is model and _is_skorch_net(model.final):
            fitted = self._train_net(model, reweighter, sample_weight)
        else:
            fitted = self._alternate(influence_model, reweighter, sample_weight)
            if influence_model is not model:
                with _Timer("training", 0, self.stage_times_):
                    fitted = model.fit(sample_weight * reweighter.weights)
        self.estimator_ = fitted
        reweighter.store(self)
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

    def _fit_unweighted(self, model, y_val, s_val, sample_weight):
        super()._fit_unweighted(model, y_val, s_val, sample_weight)
        self.weight_trajectory_ = self.sample_weight_[None].copy()
        self.n_updates_ = 0
        return self

    def _alternate(self, model, reweighter, sample_weight):
        """Alternate weight updates and warm-started refits (scikit-learn models)."""
        with _Timer("training", 0, self.stage_times_):
            fitted = model.fit(sample_weight)
        for _ in range(self.n_updates):
            changed = reweighter.update(fitted)
            if not changed:  # a refit would reproduce the same model
                reweighter.repeat_last_evaluation()
                return fitted
            with _Timer("training", 0, self.stage_times_):
                fitted = _warm_refit(model, fitted, sample_weight * reweighter.weights)
        reweighter.evaluate(fitted)
        return fitted

    def _train_net(self, model, reweighter, sample_weight):
        """Train a skorch net once, updating the weights at epoch ends."""
        # The net reads its batches' weights from this very array.
        effective = np.array(sample_weight, dtype=np.float64)
        done = []

        def on_epoch_end(net):
            epoch = len(net.history)
            if (len(done) >= self.n_updates or epoch % self.update_every
                    or epoch >= net.max_epochs):
                return
            fitted = model.assemble(net)
            reweighter.update(fitted, epoch=epoch)
            effective[:] = sample_weight * reweighter.weights
            done.append(epoch)
            net.history.record("iffair_val_gap",
                               float(np.sum(reweighter.evaluations[-1]["hard_gaps"])))

        adapter_class = model.adapter_class()
        with _Timer("training", 0, self.stage_times_):
            net = adapter_class.fit(model.final, model.Xt, model.y, effective,
                                    on_epoch_end=on_epoch_end, **model.final_params)
        # Time spent in the callback is not training time.
        self.stage_times_["training"] -= (
            self.stage_times_["influence"] + self.stage_times_["updates"]
        )
        fitted = model.assemble(net)
        reweighter.evaluate(fitted, epoch=len(net.history))
        return fitted


# ---------------------------------------------------------------- helpers
def _warm_refit(model, fitted, weights):
    """Refit with new weights, from the current solution for linear models.

    ``warm_start`` is switched on for the refit only (lbfgs, newton-cg, sag,
    saga and SGD start from the current coefficients; liblinear ignores it).
    Other families get a fresh fit.
    """
    final = model.final_step(fitted)
    if model.adapter_class() is not LinearAdapter:
        return model.fit(weights)
    original = final.get_params(deep=False)["warm_start"]
    final.set_params(warm_start=True)
    try:
        final.fit(model.Xt, model.y, sample_weight=weights, **model.final_params)
    finally:
        final.set_params(warm_start=original)
    return fitted


class _Reweighter:
    """IFFair's state across updates: weights, trajectory, evaluations.

    Parameters
    ----------
    clf : IFFairClassifier
        Gives the parameters and the shared influence computation.
    model : StagedModel
        The model the influences are computed for.
    y_val, s_val : validated validation labels (y_val 0/1 or None) and groups.
    sample_weight : ndarray
        The user's weights.
    bounds : (float, float)
        Weight bounds.
    """

    def __init__(self, clf, model, y_val, s_val, sample_weight, bounds):
        self.clf, self.model = clf, model
        self.sample_weight, self.bounds = sample_weight, bounds
        options = {"temperature": clf.temperature, "surrogate": clf.surrogate,
                   "random_state": clf.random_state}
        self.groups = FairnessConstraints(clf.objective, y_val, s_val,
                                          contrast="per_group", **options)
        self.n_groups = self.groups.n_constraints
        self.rate_columns = {}
        for column, rate in enumerate(self.groups.rates):
            self.rate_columns.setdefault(rate, []).append(column)
        self.guarded = y_val is not None and clf.utility_tolerance is not None
        self.constraints = self.groups
        if y_val is not None:
            # The soft accuracy of all validation rows: one more column.
            accuracy = FairnessConstraints(
                "accuracy_parity", y_val, np.zeros(len(y_val)),
                contrast="per_group",
                **{**options, "temperature": UTILITY_TEMPERATURE},
            )
            self.constraints = stack_constraints(self.groups, accuracy)
        self.y_val = y_val
        self.weights = np.ones(len(sample_weight))
        self.trajectory = [self.weights.copy()]
        self.evaluations, self.updates = [], []
        self.reference_accuracy = None
        self.influence = self.disparity = None

    # -- evaluation ---------------------------------------------------------
    def _record(self, values, fitted, epoch):
        group_rates = values[: self.n_groups]
        soft_accuracy = values[self.n_groups] if self.y_val is not None else np.nan
        y_pred = self.clf._predict_01(self.model.final_step(fitted),
                                      self.model.Xt_val)
        hard = self.groups.hard_values(y_pred)
        record = {
            "epoch": epoch,
            "group_rates": group_rates,
            "soft_gaps": self._gaps(group_rates),
            "hard_gaps": self._gaps(hard),
            "val_accuracy": (np.nan if self.y_val is None
                             else float(np.mean(y_pred == self.y_val))),
            "val_soft_accuracy": float(soft_accuracy),
        }
        self.evaluations.append(record)
        return record

    def _gaps(self, rates):
        return np.array([
            np.max(rates[cols]) - np.min(rates[cols])
            for cols in self.rate_columns.values()
        ])

    def evaluate(self, fitted, epoch=None):
        """Record the gaps of the model trained with the current weights."""
        adapter = self.model.adapter(
            fitted, self.sample_weight * self.weights, **self.clf._adapter_options()
        )
        values = self.constraints.values(adapter.decision_function(self.model.Xt_val))
        self._record(values, fitted, epoch)

    def repeat_last_evaluation(self):
        """Reuse the last evaluation as the final one (the update changed nothing)."""
        self.evaluations.append(dict(self.evaluations[-1]))

    # -- one update ---------------------------------------------------------
    def update(self, fitted, epoch=None):
        """Influences at ``fitted``, one weight update; return whether it moved."""
        clf = self.clf
        with _Timer("influence", 0, clf.stage_times_):
            influence, values = clf._influence(
                self.model, fitted, self.constraints, self.sample_weight,
                self.weights,
            )
        record = self._record(values, fitted, epoch)
        with _Timer("updates", 0, clf.stage_times_):
            group_influence = influence[:, : self.n_groups]
            # Per rate: influence on the worse-off group minus the better-off.
            disparities = np.column_stack([
                group_influence[:, cols[np.argmin(values[cols])]]
                - group_influence[:, cols[np.argmax(values[cols])]]
                for cols in self.rate_columns.values()
            ])
            accuracy_influence, budget = None, np.inf
            if self.y_val is not None:
                accuracy_influence = influence[:, self.n_groups]
            if self.guarded:
                if self.reference_accuracy is None:
                    self.reference_accuracy = record["val_soft_accuracy"]
                budget = (record["val_soft_accuracy"] - self.reference_accuracy
                          + clf.utility_tolerance)
            new, info = iffair_step(
                self.weights, disparities, record["soft_gaps"],
                variant=clf.variant, step_size=clf.step_size, bounds=self.bounds,
                accuracy_influence=accuracy_influence, accuracy_budget=budget,
            )
        disparity = info.pop("disparity")
        self.influence, self.disparity = group_influence, disparity
        self.updates.append(info)
        changed = not np.array_equal(new, self.weights)
        self.weights = new
        self.trajectory.append(new.copy())
        if clf.verbose:
            where = "" if epoch is None else f" (epoch {epoch})"
            gaps = ", ".join(
                f"{rate} {gap:.4f}" for rate, gap in
                zip(self.rate_columns, record["hard_gaps"], strict=True)
            )
            print(f"[IFFair] update {len(self.updates)}{where}: validation gaps "
                  f"{gaps}; accuracy {record['val_accuracy']:.4f}; predicted gap "
                  f"change {info['predicted_gap_change']:+.4f}, skipped "
                  f"{info['n_skipped']}, step scale {info['step_scale']:.3f}")
        return changed

    def store(self, clf):
        """Set the fitted attributes of ``clf``."""
        clf.sample_weight_ = self.weights
        clf.weight_trajectory_ = np.array(self.trajectory)
        clf.n_updates_ = len(self.updates)
        clf.gap_names_ = list(self.rate_columns)
        clf.group_rate_names_ = list(self.groups.names)
        clf.validation_gaps_ = np.array([e["hard_gaps"] for e in self.evaluations])
        clf.history_ = {
            key: [e[key] for e in self.evaluations]
            for key in ("epoch", "soft_gaps", "group_rates", "val_accuracy",
                        "val_soft_accuracy")
        }
        for key in ("predicted_gap_change", "predicted_accuracy_change",
                    "accuracy_budget", "n_skipped", "step_scale"):
            clf.history_[key] = [u[key] for u in self.updates]
        n = len(self.weights)
        clf.influence_ = (np.zeros((n, self.n_groups)) if self.influence is None
                          else self.influence)
        clf.disparity_ = np.zeros(n) if self.disparity is None else self.disparity


# ----------------------------------------------------------- the update rule
def iffair_step(weights, disparities, gaps, *, variant, step_size, bounds,
                accuracy_influence=None, accuracy_budget=np.inf):
    """One IFFair weight update (see :class:`IFFairClassifier`, Notes).

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Current weights, mean 1, within ``bounds``.
    disparities : ndarray of shape (n, n_rates)
        Per rate, the influence of each weight on the worse-off group's rate
        minus that on the better-off group's: ``-d gap_r / d w_i``.
    gaps : ndarray of shape (n_rates,)
        The current soft gaps (better-off minus worse-off, >= 0).
    variant : {"uniform", "diverse"}
    step_size : float
    bounds : (float, float)
    accuracy_influence : ndarray of shape (n,), default=None
        Derivative of the validation soft accuracy with respect to each
        weight (used for the guard when ``accuracy_budget`` is finite, and
        reported).
    accuracy_budget : float, default=np.inf
        How much the soft accuracy may be predicted to fall; a negative
        budget asks for a predicted rise (after an overrun).

    Returns
    -------
    new_weights : ndarray of shape (n,)
    info : dict
        ``disparity`` (the combined ``d``), ``predicted_gap_change``,
        ``predicted_accuracy_change``, ``accuracy_budget``, ``n_skipped`` and
        ``step_scale``.
    """
    weights = np.asarray(weights, dtype=float)
    D = np.asarray(disparities, dtype=float).reshape(len(weights), -1)
    gaps = np.asarray(gaps, dtype=float)
    # Gradient of sum_r gap_r**2 / 2 (up to its scale): larger gaps pull harder.
    total = gaps.sum()
    d = D @ gaps / total if total > 0 else np.zeros(len(weights))
    if variant == "uniform":
        direction = np.sign(d)
    else:
        rms = np.sqrt(np.mean(d * d))
        direction = d / rms if rms > 0 else np.zeros_like(d)
    proposal = weights * np.exp(step_size * direction)
    guarded = accuracy_influence is not None and np.isfinite(accuracy_budget)
    n_skipped = 0
    if guarded:
        change = proposal - weights
        skip = _costliest(-change * accuracy_influence, change * d,
                          float(accuracy_budget))
        proposal[skip] = weights[skip]
        n_skipped = int(skip.sum())
    new = project_weights(proposal, *bounds)
    delta = new - weights
    # First-order change of each gap along the step, and the step length t
    # minimising the predicted sum of squared gaps (a gap overshooting past
    # zero counts again), damped by _DAMPING against the linearisation error.
    gap_slope = -(delta @ D)
    curvature = gap_slope @ gap_slope
    t_best = -(gaps @ gap_slope) / curvature if curvature > 0 else 0.0
    scale = float(np.clip(_DAMPING * t_best, 0.0, 1.0))
    accuracy_change = (0.0 if accuracy_influence is None
                       else float(delta @ accuracy_influence))
    allowed = _DAMPING * max(float(accuracy_budget), 0.0)
    if guarded and -scale * accuracy_change > allowed:
        scale = allowed / -accuracy_change
    new = weights + scale * delta if scale < 1 else new
    return new, {
        "disparity": d,
        "predicted_gap_change": float(
            np.abs(gaps + scale * gap_slope).sum() - gaps.sum()
        ),
        "predicted_accuracy_change": scale * accuracy_change,
        "accuracy_budget": float(accuracy_budget),
        "n_skipped": n_skipped,
        "step_scale": scale,
    }


def _costliest(cost, benefit, allowed):
    """Mask of the changes to skip so that the summed ``cost`` is <= ``allowed``.

    Only changes with a positive cost are skipped, the highest cost per unit
    of benefit first (a change with no benefit first of all).
    """
    skip = np.zeros(len(cost), dtype=bool)
    excess = cost.sum() - allowed
    if excess <= 0:
        return skip
    costly = np.flatnonzero(cost > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(benefit[costly] > 0, cost[costly] / benefit[costly], np.inf)
    order = costly[np.argsort(-ratio, kind="stable")]
    removed = np.cumsum(cost[order])
    n = min(int(np.searchsorted(removed, excess)) + 1, len(order))
    skip[order[:n]] = True
    return skip


def project_weights(weights, lower, upper):
    """``clip(c * weights, lower, upper)`` with ``c`` such that the mean is 1.

    Parameters
    ----------
    weights : ndarray of shape (n,)
        Positive weights.
    lower, upper : float
        Bounds with ``lower <= 1 <= upper``.

    Returns
    -------
    projected : ndarray of shape (n,)
    """
    w = np.maximum(np.asarray(weights, dtype=float), np.finfo(float).tiny)

    def excess(c):
        return np.mean(np.clip(c * w, lower, upper)) - 1.0

    if abs(excess(1.0)) < 1e-15:
        return np.clip(w, lower, upper)
    lo, hi = 1.0, 1.0
    while excess(lo) > 0:
        lo /= 2
    while excess(hi) < 0:
        hi *= 2
    c = brentq(excess, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return np.clip(c * w, lower, upper)
