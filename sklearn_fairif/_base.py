"""The machinery FairIFClassifier and IFFairClassifier share.

Both are meta-estimators that train a wrapped binary classifier with sample
weights derived from influence functions on a group-annotated validation set:
the same parameters, input validation, metadata routing, owner of the
reweighted model, influence call, delegation of ``predict`` and friends, and
tags. Nothing here writes a fitted attribute: each ``fit`` does.
"""

import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
)
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._objectives import NEEDS_LABELS, OBJECTIVES
from ._staging import ReweightedModel
from ._validation_set import ValidationSet
from .influence import ExactSolver, compute_influence
from .utils._arrays import check_finite, check_sample_weight_nonneg
from .utils._logging import progress_bar
from .utils._validation import (
    _check_raw_label_types,
    check_binary_target,
    check_cells,
    check_groups,
)
from .utils._warnings import external_stacklevel

# Above this a weight times a loss, a curvature or a second weight can
# overflow float64 (1e308).
_MAX_SAMPLE_WEIGHT = 1e150


def _num_features(X):
    shape = getattr(X, "shape", None)
    if shape is not None:
        return shape[1] if len(shape) == 2 else None
    # A list of rows (a list of strings is a list of documents, not rows).
    if isinstance(X, list | tuple) and len(X) and isinstance(X[0], list | tuple):
        return len(X[0])
    return None


def _check_same_columns(X, X_val):
    """X_val must have X's shape of row and columns (names for DataFrames)."""
    # A 1-D X_val (one row, or one column) beside a 2-D X, or the reverse.
    d_X, d_val = getattr(X, "ndim", None), getattr(X_val, "ndim", None)
    if d_X is not None and d_val is not None and d_X != d_val:
        raise ValueError(
            f"X_val has {d_val} dimension(s) but X has {d_X}; the validation "
            "data must be shaped like the training data (rows x features; a "
            "single feature as a column, e.g. .reshape(-1, 1))."
        )
    n_X, n_val = _num_features(X), _num_features(X_val)
    if n_X is not None and n_val is not None and n_X != n_val:
        raise ValueError(
            f"X_val has {n_val} features but X has {n_X}; the validation data "
            "must have the training data's columns."
        )
    columns, val_columns = getattr(X, "columns", None), getattr(X_val, "columns", None)
    if columns is not None and val_columns is None and any(
            isinstance(c, str) for c in columns):
        # A Pipeline may select X's columns by name, which an array lacks.
        raise ValueError(
            f"X is a DataFrame with named columns but X_val is a "
            f"{type(X_val).__name__}; pass X_val as a DataFrame with X's columns."
        )
    if columns is not None and val_columns is not None and list(columns) != list(
            val_columns):
        missing = [c for c in columns if c not in set(val_columns)]
        raise ValueError(
            "X_val's columns differ from X's"
            + (f" (missing: {missing[:5]})" if missing else " (order)")
            + "; the validation data must have the training data's columns."
        )


def _check_finite_features(X, name):
    """Raise naming ``name`` when numeric features hold NaN or infinity.

    Arrays, sparse matrices and DataFrames only: tensors and dicts of inputs
    are left to the model family.
    """
    if sparse.issparse(X) or isinstance(X, np.ndarray) or isinstance(
            X, pd.DataFrame):
        check_finite(X, name, hint="Impute or drop them (after the estimator's "
                     "preprocessing, if any), e.g. with a SimpleImputer step in a "
                     "Pipeline.")


def _check_finite_influence(result):
    """Raise one clear error on non-finite influences or gaps, before any use."""
    if not (np.isfinite(result.influence).all() and np.isfinite(result.gaps).all()):
        raise ValueError(
            "The influence is not finite (damping="
            f"{result.damping:g}, solver={type(result.solver).__name__}). "
            "Likely causes: a singular Hessian (an unregularised model on "
            "separable data: set damping or use an L2 penalty), a model whose "
            "training diverged (non-finite parameters), extreme sample_weight "
            "values, or non-finite features."
        )


def _estimator_has(attr):
    """Check the fitted estimator, or else the (default) unfitted one."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._get_estimator(), attr)

    return check


@dataclass(frozen=True)
class _Validated:
    """The validated validation data: raw features, 0/1 labels, groups."""

    X: object
    y: np.ndarray | None
    s: np.ndarray


class BaseInfluenceReweighting(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Shared base of the influence-reweighting classifiers (not public).

    Subclasses define ``fit`` and their own parameters, and spread
    ``_parameter_constraints`` into theirs.
    """

    __metadata_request__fit = {"X_val": True, "y_val": True, "s_val": True,
                               "validation_set": True}

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "objective": [StrOptions(set(OBJECTIVES))],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "surrogate": [StrOptions({"softmax", "gumbel"})],
        "solver": [StrOptions({"auto", "exact", "cg", "lissa"}), HasMethods(["solve"])],
        "damping": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "influence_params": [StrOptions({"all", "last_layer"}), list],
        "influence_estimator": [HasMethods(["fit"]), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Short name in log records and messages ("FairIF", "IFFair").
    _log_name = "FairIF"

    def _validate_params(self):
        """scikit-learn's checks, and no bool where a number is constrained.

        ``Interval`` takes ``True`` for 1: ``tol=True`` would silently admit
        any accuracy loss, ``n_rounds=True`` mean one round.
        """
        super()._validate_params()
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if isinstance(value, bool | np.bool_) and any(
                    isinstance(c, Interval) for c in constraints):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a "
                    f"number, not a bool; got {value!r}.")

    def _get_estimator(self):
        return LogisticRegression() if self.estimator is None else self.estimator

    # ------------------------------------------------------------ validation
    def _validate_training_data(self, X, y):
        """Return ``(X, y, classes)``; ``X`` is passed on untouched.

        A Pipeline may need X's DataFrame columns, so X's own checks are left
        to the wrapped estimator (and to :meth:`_check_transformed`).
        """
        X, y = validate_data(self, X, y, skip_check_array=True)
        if _num_samples(X) == 0:
            raise ValueError("X is empty: fit needs at least two training rows.")
        y = column_or_1d(y, warn=True)
        _check_raw_label_types(y, "y")
        check_classification_targets(y)  # "Unknown label type" for continuous y
        y_type = type_of_target(y, input_name="y", raise_unknown=True)
        classes = np.unique(y)
        if y_type != "binary" or len(classes) != 2:
            if len(classes) == 1:
                raise ValueError(
                    f"y has only one class ({np.asarray(classes)[:1].tolist()[0]!r}): "
                    "a fair classifier "
                    "needs both classes in the training data."
                )
            raise ValueError(
                "Only binary classification is supported. The type of the target "
                f"is {y_type} ({len(classes)} classes)."
            )
        return X, y, classes

    def _validate_sample_weight(self, sample_weight, X):
        sample_weight = check_sample_weight_nonneg(sample_weight, _num_samples(X))
        if sample_weight is not None and np.max(sample_weight) > _MAX_SAMPLE_WEIGHT:
            raise ValueError(
                f"sample_weight has values up to {np.max(sample_weight):.3g}; their "
                "products with losses and curvatures overflow float64. Rescale "
                "them (e.g. divide by their mean): only their ratios matter, up "
                "to the strength of the regularisation (for LogisticRegression, "
                "scaling every weight by c is the same as scaling C by c)."
            )
        return _check_sample_weight(sample_weight, X)

    def _route_fit_params(self, fit_params):
        if _routing_enabled():
            return process_routing(self, "fit", **fit_params).estimator.fit
        return fit_params

    def _validate_validation_data(self, X, X_val, y_val, s_val, classes,
                                  validation_set=None):
        """Return the validated validation data, or None without ``X_val``.

        Checks what can be checked before any fitting: sizes, labels, groups,
        and X_val's columns against X's.
        """
        slicing_risk = validation_set is None
        if validation_set is not None:
            if not isinstance(validation_set, ValidationSet):
                raise TypeError(
                    "validation_set must be a sklearn_fairif.ValidationSet, got "
                    f"{type(validation_set).__name__}."
                )
            if any(v is not None for v in (X_val, y_val, s_val)):
                raise ValueError(
                    "Pass the validation data either as validation_set or as "
                    "X_val, y_val and s_val, not both."
                )
            X_val, y_val, s_val = validation_set.X, validation_set.y, validation_set.s
        if X_val is None:
            if y_val is not None or s_val is not None:
                raise ValueError("y_val and s_val were given without X_val.")
            return None
        for name, values in (("y_val", y_val), ("s_val", s_val)):
            if np.isscalar(values) or getattr(values, "ndim", None) == 0:
                raise ValueError(f"{name} must hold one entry per validation "
                                 f"row, got the scalar {values!r}.")
        n_val = _num_samples(X_val)
        if n_val == 0:
            raise ValueError("X_val is empty: the validation set needs rows.")
        _check_same_columns(X, X_val)
        if s_val is None:
            raise ValueError(
                "X_val was given without s_val: the group label of every "
                "validation row is needed."
            )
        if _num_samples(s_val) != n_val:
            raise ValueError(
                f"s_val has {_num_samples(s_val)} entries but X_val has {n_val} "
                "rows; pass one group label per validation row."
            )
        s_val = check_groups(s_val, n_val, "s_val")
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
            y_val, val_classes = check_binary_target(y_val, "y_val",
                                                     allow_single_class=True)
            unknown = [v for v in val_classes if not any(v == c for c in classes)]
            if len(unknown):
                raise ValueError(
                    f"y_val contains labels {list(unknown)} not seen in y "
                    f"(classes {classes.tolist()})."
                )
            # Equalized odds compares a rate of positives and one of negatives.
            if len(val_classes) == 1 and self.objective == "equalized_odds":
                raise ValueError(
                    f"y_val holds only one class ({val_classes.tolist()[0]!r}); "
                    "objective='equalized_odds' needs validation rows of both."
                )
            y_val = (y_val == classes[1]).astype(int)
        check_cells(OBJECTIVES[self.objective], y_val, s_val, name="s_val")
        if slicing_risk and n_val == _num_samples(X):
            warnings.warn(
                "X_val has as many rows as X. GridSearchCV and cross_validate "
                "slice every fit parameter of length len(X) to the training "
                "fold, which would corrupt the validation set. If this fit runs "
                "inside cross-validation, pass the data as "
                "validation_set=ValidationSet(X_val, y_val, s=s_val), which is "
                "never sliced (and silences this warning).",
                UserWarning,
                stacklevel=external_stacklevel(),
            )
        return _Validated(X_val, y_val, s_val)

    @staticmethod
    def _check_transformed(model):
        """After the preprocessing, before stage 1: finite numeric features.

        A network would otherwise turn one NaN into NaN weights and a model
        that predicts one class, whose hard gaps look perfectly fair.
        """
        _check_finite_features(model.Xt, "X")
        if model.Xt_val is not None:
            _check_finite_features(model.Xt_val, "X_val")
            if _num_features(model.Xt_val) != _num_features(model.Xt):
                raise ValueError(
                    f"X_val has {_num_features(model.Xt_val)} features after the "
                    f"preprocessing but X has {_num_features(model.Xt)}."
                )

    # ---------------------------------------------------- the models and influence
    def _reweighted_models(self, X, y, classes, sample_weight, fit_params, X_val):
        """Build the model to reweight and the one whose influence is computed.

        They are the same object unless ``influence_estimator`` is set.
        """
        own = self.influence_estimator is None
        model = ReweightedModel(
            self._get_estimator(), X, y, classes=classes,
            sample_weight=sample_weight, fit_params=fit_params, X_val=X_val,
            differentiable=own and X_val is not None,
        )
        if own or X_val is None:
            return model, model
        influence_model = ReweightedModel(
            self.influence_estimator, X, y, classes=classes,
            sample_weight=sample_weight, X_val=X_val,
            role="influence_estimator",
        )
        return model, influence_model

    def _adapter_options(self):
        # Passed to the families that take them (networks).
        return {"influence_params": self.influence_params, "verbose": self.verbose}

    def _compute_influence(self, model, fitted, constraints, weights=None, *,
                           adapter=None, solver=None, damping=None):
        """One influence pass at ``fitted`` (trained with ``weights``).

        ``solver`` and ``damping`` replace the estimator's own (a pass that
        reuses another's resolved damping). The pass over the training rows
        after the solves runs in ``n_jobs`` joblib blocks for an estimator
        with that parameter (FairIF's); the others run it here.
        """
        if adapter is None:
            adapter = model.adapter(fitted, weights, **self._adapter_options())
        with progress_bar("influence (iHVP)", self.verbose) as bar:
            return compute_influence(
                adapter, constraints, model.Xt_val,
                self.solver if solver is None else solver,
                damping=self.damping if damping is None else damping,
                base_weight=model.sample_weight,
                random_state=self.random_state,
                progress=None if bar is None else bar.update,
                n_jobs=getattr(self, "n_jobs", None),
            )

    def _solves_directly(self, adapter):
        """Whether the iHVPs are one factorisation (extra columns are cheap)."""
        if isinstance(self.solver, str):
            name = adapter.default_solver if self.solver == "auto" else self.solver
            return name == "exact"
        return isinstance(self.solver, ExactSolver)

    def _check_influence(self, result, columns=slice(None)):
        """Raise on non-finite influences; warn when they are all zero.

        Called once per fit, on the first influence pass; ``columns`` are the
        fairness constraints among the influence's columns.
        """
        _check_finite_influence(result)
        if not np.abs(result.influence[:, columns]).max() > 0:
            warnings.warn(
                "Every influence is exactly 0, so the weights stay 1 and the "
                f"method does nothing: with temperature={self.temperature:g} the "
                "soft rates are saturated (every validation margin is far from "
                "0 on the temperature's scale). Use a temperature near the "
                "scale of the model's decision_function (e.g. 1).",
                UserWarning,
                stacklevel=external_stacklevel(),
            )

    def _clear_fitted(self):
        """Forget every fitted attribute of a previous fit."""
        fitted = [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]
        for name in fitted:
            delattr(self, name)

    # ----------------------------------------------------------- delegation
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

    def _delegate(self, method, X, model=None):
        """Call ``method`` of the fitted ``model`` (``estimator_``) on ``X``.

        A family that needs its inputs in its own types (a skorch net: the
        module's float dtype) gets them converted after any preprocessing,
        as in training.
        """
        model = self.estimator_ if model is None else model
        if self._input_family is None:
            return getattr(model, method)(X)
        final = model
        if isinstance(final, Pipeline):
            X, final = final[:-1].transform(X), final[-1]
        X, _ = self._input_family.prepare_fit_data(
            final, X, np.zeros(_num_samples(X), dtype=int))
        return getattr(final, method)(X)

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
        return self._predict_labels(X)

    def _predict_labels(self, X, model=None):
        """Labels that the fitted ``model`` (``estimator_``) predicts for ``X``.

        A family whose models train on 0/1 targets (skorch) predicts those
        codes: they are mapped to ``classes_``.
        """
        y_pred = self._delegate("predict", X, model)
        if self._input_family is not None:
            return self.classes_[np.asarray(y_pred).astype(int).ravel()]
        return y_pred

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
        return self._delegate("predict_proba", X)

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
        return self._delegate("predict_log_proba", X)

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
        return self._delegate("decision_function", X)

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
