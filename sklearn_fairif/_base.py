"""The machinery FairIFClassifier and IFFairClassifier share.

Both are meta-estimators that train a wrapped binary classifier with sample
weights derived from influence functions on a group-annotated validation set:
the same input validation, metadata routing, influence computation (with
``damping="auto"``), delegation of ``predict`` and friends, and tags.
"""

import time
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _num_samples,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._objectives import NEEDS_LABELS
from ._staging import StagedModel
from .influence import NotPositiveDefiniteError, influence_scores, resolve_solver
from .utils._validation import _check_sensitive_features


def _estimator_has(attr):
    """Check the fitted estimator, or else the (default) unfitted one."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._get_estimator(), attr)

    return check


class BaseInfluenceReweighting(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Shared base of the influence-reweighting classifiers (not public).

    Subclasses define ``fit`` and the parameters; they rely on the attributes
    ``estimator``, ``objective``, ``solver``, ``damping``, ``influence_params``,
    ``influence_estimator``, ``random_state`` and ``verbose``.
    """

    __metadata_request__fit = {"X_val": True, "y_val": True, "s_val": True}

    def _get_estimator(self):
        return LogisticRegression() if self.estimator is None else self.estimator

    def _validate_training_data(self, X, y):
        # X is passed on untouched (a Pipeline may need its DataFrame columns);
        # its checks are left to the wrapped estimator.
        X, y = validate_data(self, X, y, skip_check_array=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)  # "Unknown label type" for continuous y
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {y_type} ({len(np.unique(y))} classes)."
            )
        self.classes_ = np.unique(y)
        return X, y

    def _route_fit_params(self, fit_params):
        if _routing_enabled():
            return process_routing(self, "fit", **fit_params).estimator.fit
        return fit_params

    def _fit_unweighted(self, model, y_val, s_val, sample_weight):
        """Fit with unit weights: the behaviour without a validation set."""
        if y_val is not None or s_val is not None:
            raise ValueError("y_val and s_val were given without X_val.")
        with self._timed("training"):
            self.estimator_ = model.fit(sample_weight)
        self.sample_weight_ = np.ones(len(sample_weight))
        return self

    def _validate_validation_data(self, X, X_val, y_val, s_val):
        n_val = _num_samples(X_val)
        if s_val is None:
            raise ValueError(
                "X_val was given without s_val: the group label of every "
                "validation row is needed."
            )
        s_val = _check_sensitive_features(s_val, n_val, name="s_val")
        if y_val is None and self.objective in NEEDS_LABELS:
            raise ValueError(
                f"objective={self.objective!r} needs validation labels: pass y_val."
            )
        if y_val is not None:
            y_val = column_or_1d(y_val)
            if len(y_val) != n_val:
                raise ValueError(
                    f"y_val has {len(y_val)} rows but X_val has {n_val}."
                )
            unknown = np.setdiff1d(y_val, self.classes_)
            if len(unknown):
                raise ValueError(
                    f"y_val contains labels {unknown.tolist()} not seen in y "
                    f"(classes {self.classes_.tolist()})."
                )
            y_val = (y_val == self.classes_[1]).astype(int)
        if n_val == _num_samples(X):
            warnings.warn(
                "X_val has as many rows as X. GridSearchCV and cross_validate "
                "slice every fit parameter of length len(X) to the training "
                "fold, which would corrupt the validation set; if this is a "
                "coincidence, drop or add one validation row.",
                UserWarning,
                stacklevel=4,  # fit, its _fit_context wrapper, caller
            )
        return y_val, s_val

    def _influence_model(self, model, X, y, X_val, sample_weight):
        if self.influence_estimator is None:
            model.adapter_class()  # fail early, naming influence_estimator
            return model
        influence_model = StagedModel(
            self.influence_estimator, X, y, X_val, sample_weight=sample_weight,
            role="influence_estimator",
        )
        influence_model.adapter_class()
        return influence_model

    def _influence(self, influence_model, fitted, constraints, sample_weight,
                   weights):
        adapter = influence_model.adapter(
            fitted, sample_weight * weights, **self._adapter_options()
        )
        solver = resolve_solver(self.solver, adapter)
        if isinstance(self.solver, str) and "random_state" in solver.get_params():
            solver.set_params(random_state=self.random_state)
        auto = self.damping == "auto"
        damping = adapter.default_damping if auto else self.damping
        for retry in range(5 if auto else 1):
            try:
                with self._progress(desc="influence (iHVP)") as bar:
                    result = influence_scores(
                        adapter, constraints, influence_model.Xt_val, solver,
                        damping=damping, base_weight=sample_weight,
                        progress=None if bar is None else bar.update,
                    )
                break
            except NotPositiveDefiniteError:
                if retry == 4 or not auto:
                    raise
                damping *= 10.0
        self.damping_ = damping
        return result

    def _check_predict_input(self, X):
        check_is_fitted(self)
        if not hasattr(X, "shape"):
            X = np.asarray(X, dtype=object)
        if len(X.shape) != 2:
            raise ValueError(
                f"Expected a 2D array, got a {len(X.shape)}D array instead. Reshape "
                "your data either using array.reshape(-1, 1) if your data has a "
                "single feature or array.reshape(1, -1) if it contains a single "
                "sample."
            )
        validate_data(self, X, reset=False, skip_check_array=True)

    def _predict_01(self, estimator, X):
        return (estimator.predict(X) == self.classes_[1]).astype(int)

    def _adapter_options(self):
        # Passed to the adapters that take them (the network adapter).
        return {"influence_params": self.influence_params, "verbose": self.verbose}

    def _timed(self, stage):
        prefix = type(self).__name__.removesuffix("Classifier")
        return _Timer(stage, self.verbose, self.stage_times_, prefix)

    def _progress(self, desc):
        return _Progress(desc, self.verbose)

    # ----------------------------------------------------------- delegation
    def predict(self, X):
        """Predict class labels with the reweighted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; no group labels needed.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        self._check_predict_input(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the reweighted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
        """
        self._check_predict_input(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the reweighted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, 2)
        """
        self._check_predict_input(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the reweighted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        self._check_predict_input(X)
        return self.estimator_.decision_function(X)

    # -------------------------------------------------------------- routing
    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``X_val``, ``y_val`` and ``s_val`` are requested by the estimator itself; other
        fit parameters are routed to ``estimator.fit``.

        Returns
        -------
        routing : MetadataRouter
            The routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                estimator=self._get_estimator(),
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        )

    def __sklearn_tags__(self):
        """Binary-only classifier; input tags follow the wrapped estimator."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        inner = get_tags(self._get_estimator())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags


class _Timer:
    """Add a stage's wall time to ``times`` (and print it when verbose)."""

    def __init__(self, stage, verbose, times, prefix="FairIF"):
        self.stage, self.verbose, self.times = stage, verbose, times
        self.prefix = prefix

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        elapsed = time.perf_counter() - self.start
        self.times[self.stage] = self.times.get(self.stage, 0.0) + elapsed
        if self.verbose and exc[0] is None:
            print(f"[{self.prefix}] {self.stage}: {elapsed:.3f}s")


class _Progress:
    """A tqdm bar when verbose > 1, else nothing."""

    def __init__(self, desc, verbose):
        self.desc, self.verbose = desc, verbose
        self.bar = None

    def __enter__(self):
        if self.verbose > 1:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=self.desc, unit="it", leave=False)
        return self.bar

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
