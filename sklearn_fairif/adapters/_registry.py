"""Which adapter serves which estimator: the registry of model families.

Families are tried in order. Each entry names the module and class of its
adapter and, for families whose module is costly to import (torch), a cheap
predicate that is checked first, so that ``import sklearn_fairif`` never
imports torch and a scikit-learn model never triggers it.
"""

import importlib
import inspect

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import has_fit_parameter


def _is_skorch_net(estimator):
    return any(
        cls.__module__.startswith("skorch") for cls in type(estimator).__mro__
    )


# (module, adapter class, predicate or None, what to install when the import fails)
_FAMILIES = [
    ("sklearn_fairif.adapters._linear", "LinearAdapter", None, None),
    ("sklearn_fairif.adapters._torch", "SkorchAdapter", _is_skorch_net,
     "Influence for skorch networks needs torch and skorch: "
     "pip install 'sklearn-fairif[torch]'."),
]


def _family_of(estimator):
    """Return the adapter class of ``estimator``'s family, or None."""
    for module, name, predicate, install_hint in _FAMILIES:
        if predicate is not None and not predicate(estimator):
            continue
        try:
            adapter = getattr(importlib.import_module(module), name)
        except ImportError as exc:
            raise ImportError(install_hint) from exc
        if adapter.supports(estimator):
            return adapter
    return None


def get_adapter_class(estimator, *, role="estimator"):
    """Return the adapter class for an (unfitted) final estimator.

    Parameters
    ----------
    estimator : estimator
        The model whose influence is needed (the last step for a Pipeline).
    role : str, default="estimator"
        Name of the parameter it came from, used in error messages.

    Returns
    -------
    adapter_class : type
        A class implementing :class:`InfluenceAdapter` and the hooks of
        :class:`ModelFamily`.

    Raises
    ------
    TypeError
        If no family supports ``estimator``; the message names
        ``influence_estimator`` as the way out.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_fairif.adapters import get_adapter_class
    >>> get_adapter_class(LogisticRegression()).__name__
    'LinearAdapter'
    """
    adapter = _family_of(estimator)
    if adapter is None:
        raise TypeError(
            f"{type(estimator).__name__} has no differentiable loss that "
            "sklearn_fairif can compute influences for (supported: "
            "LogisticRegression, SGDClassifier(loss='log_loss'), skorch networks, "
            "and Pipelines ending in one). Pass "
            "influence_estimator=LogisticRegression() (or another supported model) "
            f"to compute the weights with it and refit the {role} with them."
        )
    adapter.check_estimator(estimator)
    return adapter


def check_accepts_sample_weight(estimator, *, role="estimator"):
    """Raise ``TypeError`` if ``estimator.fit`` cannot honour ``sample_weight``.

    Parameters
    ----------
    estimator : estimator
        The model to be refitted with weights.
    role : str, default="estimator"
        Name of the parameter it came from, used in error messages.
    """
    if isinstance(estimator, FrozenEstimator):
        raise TypeError(
            f"The {role} is a FrozenEstimator, whose fit ignores sample_weight "
            "and so cannot be refitted with FairIF's weights. Pass the unfrozen "
            "estimator instead."
        )
    if _is_skorch_net(estimator):
        return  # weights travel through the skorch family's own training
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(
            f"The {role} {type(estimator).__name__} does not accept sample_weight "
            "in fit, so it cannot be refitted with FairIF's weights."
        )


def fit_weighted(estimator, X, y, sample_weight, **fit_params):
    """Fit a clone of ``estimator`` with ``sample_weight`` through its family.

    Parameters
    ----------
    estimator : estimator
        Not modified. Estimators outside every family (e.g. gradient boosting)
        are cloned and fitted with ``sample_weight=``.
    X, y : training data
    sample_weight : array-like of shape (n_samples,)
    **fit_params : dict
        Passed on to ``fit``.

    Returns
    -------
    fitted : estimator
        The fitted clone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_fairif.adapters import fit_weighted
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> fit_weighted(LogisticRegression(), X, y, np.ones(4)).predict(X)
    array([0, 0, 1, 1])
    """
    family = _family_of(estimator)
    if family is not None:
        return family.fit(estimator, X, y, sample_weight, **fit_params)
    return clone(estimator).fit(X, y, sample_weight=sample_weight, **fit_params)


def make_adapter(fitted, X, y, sample_weight=None, **options):
    """Build the influence adapter of a fitted model (a final step, not a Pipeline).

    Parameters
    ----------
    fitted : estimator
        A fitted model of a supported family.
    X, y : its training data, in the model's input space
    sample_weight : array-like of shape (n_samples,), default=None
        The weights it was fitted with (ones when None).
    **options : dict
        Family options (``influence_params``, ``batch_size``, ...); options a
        family does not take are ignored, so callers can pass one set to all.

    Returns
    -------
    adapter : InfluenceAdapter

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_fairif.adapters import make_adapter
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 1, 0, 1])
    >>> adapter = make_adapter(LogisticRegression().fit(X, y), X, y)
    >>> adapter.n_params
    2
    """
    adapter_class = get_adapter_class(fitted)
    return build_adapter(adapter_class, fitted, X, y, sample_weight, **options)


def build_adapter(adapter_class, fitted, X, y, sample_weight=None, **options):
    """Instantiate ``adapter_class`` with the options its constructor takes."""
    accepted = inspect.signature(adapter_class).parameters
    options = {k: v for k, v in options.items() if k in accepted}
    if sample_weight is None:
        sample_weight = np.ones(len(y))
    return adapter_class(fitted, X, y, sample_weight, **options)
