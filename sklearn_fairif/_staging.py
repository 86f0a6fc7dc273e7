"""The wrapped estimator as FairIF sees it: preprocessing, then a weighted final step.

FairIF's weights only change how the *final* model is trained, so a Pipeline's
transformers are fitted once on the unweighted training data and reused by every
stage. This also sidesteps two Pipeline traps (DESIGN §4): a Pipeline passes
``X_val`` to its last step untransformed, and rejects a plain
``sample_weight=`` when metadata routing is off.
"""

import inspect

from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from .adapters import check_accepts_sample_weight, fit_weighted, get_adapter


def split_pipeline(estimator):
    """Return ``(preprocessing or None, final step, final step name)``."""
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        return estimator[:-1], final, name
    return None, estimator, None


class StagedModel:
    """One estimator, its preprocessing fitted, ready for weighted refits.

    Parameters
    ----------
    estimator : estimator
        The user's estimator (possibly a Pipeline); not modified.
    X, y : training data
    X_val : validation features or None
    fit_params : dict
        Extra fit parameters. For a Pipeline, ``"<step>__<param>"`` keys go to
        their step as in ``Pipeline.fit``.
    role : str
        Name used in error messages ("estimator" or "influence_estimator").
    """

    def __init__(self, estimator, X, y, X_val=None, fit_params=None, *,
                 sample_weight=None, role="estimator"):
        pre, self.final, self.final_name = split_pipeline(estimator)
        check_accepts_sample_weight(self.final, role=role)
        self.role = role
        self.y = y
        pre_params, self.final_params = _split_fit_params(
            fit_params or {}, self.final_name
        )
        self.pre, self.Xt = None, X
        if pre is not None:
            self.pre, self.Xt = _fit_preprocessing(
                pre, X, y, sample_weight, pre_params
            )
        self.Xt_val = None if X_val is None else self.transform(X_val)

    def transform(self, X):
        """Apply the fitted preprocessing (identity without a Pipeline)."""
        return X if self.pre is None else self.pre.transform(X)

    def adapter_class(self):
        """Return the influence adapter class of the final step (raise if none)."""
        return get_adapter(self.final, role=self.role)

    def fit(self, sample_weight):
        """Fit a fresh final step with ``sample_weight``; return the full model."""
        final = fit_weighted(
            self.final, self.Xt, self.y, sample_weight, **self.final_params
        )
        return self.assemble(final)

    def assemble(self, final):
        """Return the full model around a fitted final step."""
        if self.pre is None:
            return final
        return Pipeline(self.pre.steps + [(self.final_name, final)])

    def final_step(self, fitted):
        """Return the fitted final step of a model returned by :meth:`fit`."""
        return fitted[-1] if self.pre is not None else fitted

    def adapter(self, fitted, sample_weight, **options):
        """Build the influence adapter of a model returned by :meth:`fit`.

        ``options`` (e.g. ``influence_params``) go to the adapters that take
        them; the others (the linear adapter) ignore them.
        """
        adapter_class = self.adapter_class()
        accepted = inspect.signature(adapter_class).parameters
        options = {k: v for k, v in options.items() if k in accepted}
        return adapter_class(
            self.final_step(fitted), self.Xt, self.y, sample_weight, **options
        )


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


def _split_fit_params(fit_params, final_name):
    if final_name is None:
        return {}, dict(fit_params)
    prefix = final_name + "__"
    final = {k[len(prefix):]: v for k, v in fit_params.items() if k.startswith(prefix)}
    pre = {k: v for k, v in fit_params.items() if not k.startswith(prefix)}
    return pre, final
