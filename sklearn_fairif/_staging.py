"""The one owner of the model being reweighted.

FairIF's weights only change how the *final* model is trained, so a Pipeline's
transformers are fitted once on the unweighted training data and reused by every
stage. This also sidesteps two Pipeline traps (DESIGN §4): a Pipeline passes
``X_val`` to its last step untransformed, and rejects a plain
``sample_weight=`` when metadata routing is off.

:class:`ReweightedModel` is built once per ``fit``. It resolves the model
family once, applies the user's sample weights itself (every refit trains with
``sample_weight * weights``), transforms the validation data once, and reads
validation margins and predictions from a fitted final step on that cached
transform.
"""

import inspect

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import _num_samples, has_fit_parameter

from .adapters._registry import (
    _family_of,
    _is_skorch_net,
    build_adapter,
    check_accepts_sample_weight,
    get_adapter_class,
)


def split_pipeline(estimator):
    """Return ``(preprocessing or None, final step, final step name)``."""
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        return estimator[:-1], final, name
    return None, estimator, None


class ReweightedModel:
    """One estimator, its preprocessing fitted, ready for weighted refits.

    Parameters
    ----------
    estimator : estimator
        The user's estimator (possibly a Pipeline); never modified.
    X, y : training data
        ``y`` holds the user's labels.
    classes : ndarray of shape (2,)
        The two labels; ``classes[1]`` is the positive class.
    sample_weight : ndarray of shape (n_samples,)
        The user's weights: the preprocessing is fitted with them and every
        refit multiplies FairIF's weights by them.
    fit_params : dict, default=None
        Extra fit parameters. For a Pipeline, ``"<step>__<param>"`` keys go to
        their step as in ``Pipeline.fit``.
    X_val : validation features or None
        Transformed once here.
    differentiable : bool, default=True
        Whether influences are computed for this model (then its family must
        have an adapter).
    role : str, default="estimator"
        Name of the parameter it came from, used in error messages.

    Attributes
    ----------
    adapter_class : type or None
        The family's adapter (None when not ``differentiable``).
    Xt, Xt_val : the transformed training and validation features
    y_fit : the training targets as the family's ``fit`` expects them
    """

    def __init__(self, estimator, X, y, *, classes, sample_weight,
                 fit_params=None, X_val=None, differentiable=True,
                 role="estimator"):
        pre, self.final, self.final_name = split_pipeline(estimator)
        check_accepts_sample_weight(self.final, role=role)
        self.role, self.classes = role, classes
        self.adapter_class = (
            get_adapter_class(self.final, role=role) if differentiable else None
        )
        self._family = (
            self.adapter_class if differentiable else _family_of(self.final)
        )
        self.sample_weight = sample_weight
        step_names = [] if pre is None else [n for n, _ in estimator.steps]
        pre_params, self.final_params = _split_fit_params(
            fit_params or {}, self.final_name, step_names, self.final
        )
        self.pre, self.Xt = None, X
        if pre is not None:
            self.pre, self.Xt = _fit_preprocessing(
                pre, X, y, sample_weight, pre_params
            )
        self.y_fit, self.encoded = y, False
        prepare = getattr(self._family, "prepare_fit_data", None)
        if prepare is not None:  # e.g. skorch: 0/1 targets in the module's dtype
            self.Xt, self.y_fit = prepare(self.final, self.Xt, self.encode(y))
            self.encoded = True
        self.Xt_val = None
        if X_val is not None:
            try:
                self.Xt_val = self.transform(X_val)
            except ValueError as error:  # the Pipeline's checks name it "X"
                raise ValueError(
                    f"X_val could not be transformed by the estimator's "
                    f"preprocessing: {error}") from error
            if self.encoded:  # the validation inputs in the module's dtype too
                self.Xt_val, _ = prepare(self.final, self.Xt_val,
                                         np.zeros(_num_samples(X_val), dtype=int))

    # -- data --------------------------------------------------------------
    def transform(self, X):
        """Apply the fitted preprocessing (identity without a Pipeline)."""
        return X if self.pre is None else self.pre.transform(X)

    def encode(self, y):
        """Labels as 0/1 (1 for ``classes[1]``)."""
        return (np.asarray(y) == self.classes[1]).astype(int)

    # -- fitting -------------------------------------------------------------
    def fit(self, weights=None, *, warm_from=None):
        """Fit a fresh final step with ``sample_weight * weights``.

        Returns the full model (a Pipeline around the fitted final step when
        the estimator is one). With ``warm_from`` (a model returned by this
        method) and a family that supports it, the fit starts from that
        model's solution; otherwise it starts afresh.
        """
        sample_weight = self.effective_weight(weights)
        warm_fit = getattr(self._family, "warm_fit", None)
        if warm_from is not None and warm_fit is not None:
            final = warm_fit(self.final_step(warm_from), self.Xt, self.y_fit,
                             sample_weight, **self.final_params)
        elif self._family is not None:
            final = self._family.fit(self.final, self.Xt, self.y_fit,
                                     sample_weight, **self.final_params)
        else:
            final = clone(self.final).fit(self.Xt, self.y_fit,
                                          sample_weight=sample_weight,
                                          **self.final_params)
        return self.assemble(final)

    def displaced(self, fitted, delta):
        """``fitted`` with its final step's parameters moved by ``delta``.

        For families with a ``displaced`` hook (linear models; see
        :attr:`displaceable`).
        """
        return self.assemble(self._family.displaced(self.final_step(fitted), delta))

    @property
    def displaceable(self):
        """Whether :meth:`displaced` can move the parameters (a family hook)."""
        return hasattr(self._family, "displaced")

    def fit_with_updates(self, on_epoch_end, estimator_name):
        """Train once, letting ``on_epoch_end(net)`` change the weights.

        For families that train by epochs (skorch): ``on_epoch_end`` returns
        new FairIF weights, or None to keep the current ones; the next epochs
        train with ``sample_weight * weights``.
        """
        def hook(net):
            weights = on_epoch_end(net)
            return None if weights is None else self.sample_weight * weights

        net = self._family.fit(self.final, self.Xt, self.y_fit, self.sample_weight,
                               on_epoch_end=hook, estimator_name=estimator_name,
                               **self.final_params)
        return self.assemble(net)

    @property
    def input_family(self):
        """The family whose ``prepare_fit_data`` shapes this model's inputs, or None."""
        return self._family if self.encoded else None

    @property
    def convex(self):
        """Whether the family's training objective is convex (warm starts help)."""
        return bool(getattr(self._family, "convex", False))

    @property
    def trains_by_epochs(self):
        """Whether the weights can change between epochs of one training."""
        return _is_skorch_net(self.final)

    def effective_weight(self, weights=None):
        """Return the weights a model trains with: the user's times FairIF's."""
        if weights is None:
            return self.sample_weight
        return self.sample_weight * weights

    def assemble(self, final):
        """Return the full model around a fitted final step."""
        if self.pre is None:
            return final
        return Pipeline(self.pre.steps + [(self.final_name, final)])

    def final_step(self, fitted):
        """Return the fitted final step of a model returned by :meth:`fit`."""
        return fitted[-1] if self.pre is not None else fitted

    # -- influence -------------------------------------------------------------
    def adapter(self, fitted, weights=None, **options):
        """Build the influence adapter of a model returned by :meth:`fit`.

        ``weights`` are FairIF's weights the model was trained with (the
        user's are applied here); ``options`` go to the families that take
        them (e.g. ``influence_params`` for networks).
        """
        return build_adapter(
            self.adapter_class, self.final_step(fitted), self.Xt, self.y_fit,
            self.effective_weight(weights), **options,
        )

    def validation_margins(self, fitted):
        """Return binary margins of a fitted model on the cached validation data.

        Read from the fitted final step through the family's ``margins`` hook,
        so no training-data adapter is built for it.
        """
        final = self.final_step(fitted)
        margins = getattr(self.adapter_class, "margins", None)
        if margins is None:  # a family without the hook: through an adapter
            return self.adapter(fitted).decision_function(self.Xt_val)
        return margins(final, self.Xt_val)

    def validation_predictions(self, fitted):
        """Return 0/1 predictions of a fitted model on the cached validation data."""
        y_pred = self.final_step(fitted).predict(self.Xt_val)
        return np.asarray(y_pred).astype(int) if self.encoded else self.encode(y_pred)


def _fit_preprocessing(pre, X, y, sample_weight, params):
    """Fit the transformers step by step, like ``Pipeline.fit``.

    Stepping through by hand passes the user's ``sample_weight`` to every
    transformer that accepts it, whatever the metadata-routing setting.
    """
    pre = clone(pre)
    Xt = X
    for name, step in pre.steps:
        if step is None or step == "passthrough":
            continue
        step_params = {
            k[len(name) + 2:]: v for k, v in params.items()
            if k.startswith(name + "__")
        }
        if sample_weight is not None and has_fit_parameter(step, "sample_weight"):
            step_params["sample_weight"] = sample_weight
        Xt = step.fit_transform(Xt, y, **step_params)
    return pre, Xt


def _check_fit_accepts(estimator, fit_params):
    """Raise before any fitting when ``estimator.fit`` cannot take the keys."""
    parameters = inspect.signature(estimator.fit).parameters
    if any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = [k for k in fit_params if k not in parameters]
    if unknown and not _routing_enabled():
        raise TypeError(
            f"fit got unexpected fit parameters {unknown}: "
            f"{type(estimator).__name__}.fit does not take them."
        )


def _split_fit_params(fit_params, final_name, step_names=(), final=None):
    """Split fit parameters into the preprocessing's and the final step's.

    Unknown keys fail as they would in the final estimator's ``fit``, whatever
    the estimator: a Pipeline's keys must be ``"<step>__<param>"``. The sample
    weights have their own argument.
    """
    for key in fit_params:
        if key == "sample_weight" or key.endswith("__sample_weight"):
            raise TypeError(
                f"fit got {key!r} among the estimator's fit parameters; pass the "
                "user's weights as fit(..., sample_weight=...), which every stage "
                "uses and FairIF's weights multiply."
            )
    if final_name is None:
        _check_fit_accepts(final, fit_params)
        return {}, dict(fit_params)
    unknown = [k for k in fit_params
               if k.partition("__")[0] not in step_names or "__" not in k]
    # With metadata routing on, process_routing has already checked the keys.
    if unknown and not _routing_enabled():
        raise TypeError(
            f"fit got unexpected fit parameters {unknown} for a Pipeline: name "
            f"them '<step>__<parameter>' with a step among {list(step_names)}."
        )
    prefix = final_name + "__"
    final = {k[len(prefix):]: v for k, v in fit_params.items() if k.startswith(prefix)}
    pre = {k: v for k, v in fit_params.items() if not k.startswith(prefix)}
    return pre, final
