"""The adapter protocol: what the influence machinery needs from a model family.

An adapter wraps one *fitted* model together with its training data and exposes
the quantities of DESIGN §2 without the influence code knowing the model type:

``n_samples``, ``n_params``
    Training-set size ``n`` and parameter count ``P``.
``decision_function(X)``
    Binary margins ``z`` (the logit of the positive class), as a NumPy array.
``logit_vjp(X, G)``
    ``sum_j G[j, c] * grad_theta z_j`` for each column ``c`` of ``G`` (m × k):
    the gradient of each validation constraint once ``G = dg/dz``. Shape (P, k),
    in the adapter's array type (NumPy, or a torch tensor on the model's device).
``hvp(V, batch=None)``
    ``H @ V`` for the Hessian ``H`` of the *mean* training objective including
    its regulariser; ``batch`` (indices) gives the mini-batch estimate LiSSA uses.
``hessian()``
    Dense ``H`` (P × P), for the exact solver; only called when P is small.
``grad_dot(U)``
    ``grad ell_i(theta)^T U[:, c]`` for every training sample (n × k NumPy): one
    pass over the data, never an n × P matrix. ``ell_i`` includes the model's own
    per-sample scaling (e.g. ``class_weight``) but not the sample weights the
    adapter was built with: those enter the Hessian only.
``default_solver``, ``default_damping``
    What ``solver="auto"`` and ``damping="auto"`` start from.
``influence_dot(U)`` (optional)
    The derivative of the weighted training gradient with respect to each
    sample's weight, dotted with ``U``; defaults to ``grad_dot``. Differs when
    the model rescales samples as a function of the weights (balanced classes).
``to_numpy(a)`` / ``from_numpy(a)``
    Move arrays between NumPy and the adapter's array type.

Each adapter class also offers the class-level hooks ``supports(estimator)``,
``check_estimator(estimator)`` (raise a clear error for unsupported settings)
and ``fit(estimator, X, y, sample_weight, **fit_params)`` (a weighted fit).
"""

from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import has_fit_parameter

from ._linear import LinearAdapter

# Model families in lookup order; the torch adapter is added lazily so that
# importing sklearn_fairif never imports torch.
_ADAPTERS = [LinearAdapter]


def _torch_adapter():
    try:
        from ._torch import SkorchAdapter
    except ImportError:  # torch or skorch missing: no network family
        return None
    return SkorchAdapter


def _is_skorch_net(estimator):
    return any(
        cls.__module__.startswith("skorch") for cls in type(estimator).__mro__
    )


def get_adapter(estimator, *, role="estimator"):
    """Return the adapter class for an (unfitted) final estimator.

    Parameters
    ----------
    estimator : estimator
        The model whose influence is needed (the last step for a Pipeline).
    role : str, default="estimator"
        Name used in error messages.

    Returns
    -------
    adapter_class : type

    Raises
    ------
    TypeError
        If no adapter supports ``estimator``; the message names
        ``influence_estimator`` as the way out.
    """
    candidates = list(_ADAPTERS)
    if _is_skorch_net(estimator):
        adapter = _torch_adapter()
        if adapter is None:
            raise ImportError(
                "Influence for skorch networks needs torch and skorch: "
                "pip install 'sklearn-fairif[torch]'."
            )
        candidates.append(adapter)
    for adapter in candidates:
        if adapter.supports(estimator):
            adapter.check_estimator(estimator)
            return adapter
    raise TypeError(
        f"{type(estimator).__name__} has no differentiable loss that "
        "sklearn_fairif can compute influences for (supported: LogisticRegression, "
        "SGDClassifier(loss='log_loss'), skorch networks, and Pipelines ending in "
        "one). Pass influence_estimator=LogisticRegression() (or another supported "
        f"model) to compute the weights with it and refit the {role} with them."
    )


def check_accepts_sample_weight(estimator, *, role="estimator"):
    """Raise if ``estimator.fit`` cannot honour ``sample_weight``."""
    if isinstance(estimator, FrozenEstimator):
        raise TypeError(
            f"The {role} is a FrozenEstimator, whose fit ignores sample_weight "
            "and so cannot be refitted with FairIF's weights. Pass the unfrozen "
            "estimator instead."
        )
    if _is_skorch_net(estimator):
        return  # weights travel through the adapter's SliceDict
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(
            f"The {role} {type(estimator).__name__} does not accept sample_weight "
            "in fit, so it cannot be refitted with FairIF's weights."
        )


def fit_weighted(estimator, X, y, sample_weight, **fit_params):
    """Fit a clone of ``estimator`` with ``sample_weight`` through its family."""
    if _is_skorch_net(estimator):
        return _torch_adapter().fit(estimator, X, y, sample_weight, **fit_params)
    return clone(estimator).fit(X, y, sample_weight=sample_weight, **fit_params)
