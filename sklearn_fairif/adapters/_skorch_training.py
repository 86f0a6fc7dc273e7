"""Weighted training of skorch networks (torch and skorch are imported here).

skorch's ``fit(X, y, sample_weight=w)`` does not batch ``w``. Instead the
weights ride along ``X`` in a :class:`skorch.helper.SliceDict`, so skorch
batches and splits them with the data; a temporary subclass of the user's net
class strips them before the forward pass and multiplies the criterion's
unreduced loss by them in ``get_loss``. Nothing of this module stays in the
returned net: its class is the user's again and the epoch callback is removed
from ``callbacks_`` after the fit.

The weights live in one torch tensor (the *weight buffer*) that every batch
reads its rows from when it is drawn. An ``on_epoch_end`` function can return
new weights; they are written into the buffer, so the next epoch trains with
them. When the training iterator uses worker processes the buffer is moved to
shared memory first: a forked or persistent worker would otherwise keep
reading its own copy and never see an update.
"""

import contextlib
import copy
import logging
from collections.abc import Mapping

import numpy as np
import torch
from scipy import sparse
from sklearn.base import clone
from skorch.callbacks import Callback, PrintLog
from skorch.helper import SliceDict

from ..utils._logging import emit

# Keys under which the weighted refit carries its data through skorch. They are
# removed before the module's forward pass, so the user's module never sees them.
WEIGHT_KEY = "__fairif_sample_weight__"
X_KEY = "__fairif_X__"
# Name of the temporary callback in ``net.callbacks_`` during a weighted fit.
HOOK_NAME = "__fairif_epoch_hook__"


def fit_weighted_net(estimator, X, y, sample_weight, *, on_epoch_end=None,
                     estimator_name="FairIF", **fit_params):
    """Fit a clone of a skorch net with per-sample weights.

    Both stages of FairIF start from the same state: a module given as an
    instance (e.g. pretrained) is copied by ``clone``, the weights of an
    initialised net (e.g. after ``load_params``) are loaded into the clone,
    and torch's random stream (initialisation, shuffling, dropout) restarts
    from ``torch.initial_seed()``; the caller's streams are restored
    afterwards, and a CUDA stream is only touched when the net runs on CUDA.

    Parameters
    ----------
    estimator : skorch.NeuralNet
        Not modified.
    X : array-like, tensor or dict of those
        Training inputs.
    y : array-like or tensor of shape (n_samples,)
        Training targets.
    sample_weight : array-like or tensor of shape (n_samples,)
        Per-sample weights; copied into the weight buffer.
    on_epoch_end : callable, default=None
        Called as ``on_epoch_end(net)`` after every epoch (after the net's own
        callbacks, before its ``PrintLog``). It may return new per-sample
        weights (array of shape (n_samples,)), which the next epochs train
        with, or ``None`` to keep the current ones. Used by IFFair.
    estimator_name : str, default="FairIF"
        The ``estimator`` field of the ``"train_begin"`` and ``"epoch_end"``
        log records (DEBUG level, logger ``"sklearn_fairif"``).
    **fit_params : dict
        Passed to the net's ``partial_fit``.

    Returns
    -------
    net : estimator's class
        The fitted clone.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetBinaryClassifier
    >>> from sklearn_fairif.adapters._skorch_training import fit_weighted_net
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.float32)
    >>> net = NeuralNetBinaryClassifier(torch.nn.Linear, module__in_features=3,
    ...                                 module__out_features=1, max_epochs=3,
    ...                                 train_split=None, verbose=0)
    >>> seen = []
    >>> def double(net):
    ...     seen.append(len(net.history))
    ...     return np.full(40, 2.0)
    >>> fitted = fit_weighted_net(net, X, y, np.ones(40), on_epoch_end=double)
    >>> seen, type(fitted).__name__
    ([1, 2, 3], 'NeuralNetBinaryClassifier')
    """
    base = type(estimator)
    net = clone(estimator)
    net.__class__ = _weighted_class(base)
    initial_state = None
    if getattr(estimator, "initialized_", False):
        initial_state = copy.deepcopy(estimator.module_.state_dict())
    buffer = weight_buffer(sample_weight, shared=_uses_workers(net))
    Xw = attach_weights(X, buffer)
    hook = _EpochHook(on_epoch_end, buffer, estimator_name,
                      fit_params.get("epochs") or net.max_epochs)
    try:
        with same_random_stream(_net_device(net)):
            net.initialize()
            if initial_state is not None:
                net.module_.load_state_dict(initial_state)
            _insert_hook(net, hook)
            net.partial_fit(Xw, y, **fit_params)
    finally:
        net.__class__ = base
        if getattr(net, "callbacks_", None) is not None:
            net.callbacks_ = [(n, cb) for n, cb in net.callbacks_ if cb is not hook]
    return net


# ------------------------------------------------------------ weight buffer
def weight_buffer(sample_weight, *, shared=False):
    """Return the weights as a float64 CPU tensor (in shared memory if asked).

    A CPU tensor whatever the input (CUDA tensors included): skorch's data
    loader indexes the buffer on the host with the rest of the batch.
    """
    if isinstance(sample_weight, torch.Tensor):
        buffer = sample_weight.detach().to("cpu", torch.float64).clone()
    else:
        buffer = torch.tensor(np.asarray(sample_weight, dtype=np.float64))
    if buffer.ndim != 1:
        raise ValueError(
            f"sample_weight must be 1-dimensional, got shape {tuple(buffer.shape)}."
        )
    return buffer.share_memory_() if shared else buffer


def write_weights(buffer, weights):
    """Copy new weights into the buffer in place (workers see the same memory)."""
    if isinstance(weights, torch.Tensor):
        new = weights.detach().to("cpu", torch.float64)
    else:
        new = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    if new.shape != buffer.shape:
        raise ValueError(
            f"on_epoch_end returned weights of shape {tuple(new.shape)}; expected "
            f"{tuple(buffer.shape)} (one per training row)."
        )
    buffer.copy_(new)


def _uses_workers(net):
    params = net.get_params(deep=False)
    return int(params.get("iterator_train__num_workers", 0) or 0) > 0


def attach_weights(X, weights):
    """Put ``weights`` next to the inputs in a :class:`SliceDict`."""
    if isinstance(X, Mapping):
        if WEIGHT_KEY in X:
            raise ValueError(f"X must not contain the key {WEIGHT_KEY!r}.")
        return SliceDict(**X, **{WEIGHT_KEY: weights})
    return SliceDict(**{X_KEY: X, WEIGHT_KEY: weights})


def detach_weights(X):
    """Split a batch into ``(inputs without the weights, weights or None)``."""
    if not isinstance(X, Mapping) or WEIGHT_KEY not in X:
        return X, None
    weights = X[WEIGHT_KEY]
    if X_KEY in X:
        return X[X_KEY], weights
    rest = {k: v for k, v in X.items() if k != WEIGHT_KEY}
    return (SliceDict(**rest) if isinstance(X, SliceDict) else rest), weights


# -------------------------------------------------------- the net's class
class _WeightedFitMixin:
    """Reads per-sample weights from the batch and weights the loss with them.

    :meth:`infer` removes them before the module runs and :meth:`get_loss`
    multiplies the criterion's unreduced loss by them. Normalising by the batch
    size keeps unit weights equal to the plain mean loss.
    """

    def infer(self, x, **fit_params):
        """Forward pass without the weights."""
        return super().infer(detach_weights(x)[0], **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted mean of the per-sample losses when the batch has weights."""
        X, weights = detach_weights(X)
        if weights is None:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        criterion = self.criterion_
        reduction = criterion.reduction
        criterion.reduction = "none"
        try:
            losses = super().get_loss(y_pred, y_true, X=X, training=training)
        finally:
            criterion.reduction = reduction
        weights = torch.as_tensor(weights, device=losses.device).to(losses.dtype)
        if losses.shape != weights.shape:
            raise ValueError(
                "The criterion must return one loss per sample with "
                f"reduction='none'; got shape {tuple(losses.shape)} for a batch of "
                f"{len(weights)}."
            )
        return (weights * losses).sum() / len(weights)


_WEIGHTED_CLASSES = {}


def _weighted_class(base):
    """Return the weighted subclass of a skorch net class (cached)."""
    if base not in _WEIGHTED_CLASSES:
        _WEIGHTED_CLASSES[base] = type(
            f"_Weighted{base.__name__}", (_WeightedFitMixin, base), {}
        )
    return _WEIGHTED_CLASSES[base]


# ------------------------------------------------------------ the callback
class _EpochHook(Callback):
    """Log training progress; call ``fn(net)`` and apply its weights per epoch."""

    def __init__(self, fn, buffer, estimator_name, max_epochs):
        self.fn = fn
        self.buffer = buffer
        self.estimator_name = estimator_name
        self.max_epochs = max_epochs

    def on_train_begin(self, net, **kwargs):
        """Say how many epochs are coming."""
        emit("train_begin", self.estimator_name,
             f"training for {self.max_epochs} epochs", level=logging.DEBUG,
             max_epochs=self.max_epochs)

    def on_epoch_end(self, net, **kwargs):
        """Call the function, write the weights it returns, log the epoch."""
        if self.fn is not None:
            weights = self.fn(net)
            if weights is not None:
                write_weights(self.buffer, weights)
        epoch = len(net.history)
        emit("epoch_end", self.estimator_name, f"epoch {epoch}",
             level=logging.DEBUG, epoch=epoch)


def _insert_hook(net, hook):
    """Insert ``hook`` into an initialised net's callbacks, before its PrintLog.

    Added to ``callbacks_`` directly, so the net's ``callbacks`` parameter
    (what ``get_params`` and ``clone`` see) is left untouched.
    """
    hook.initialize()
    position = next(
        (i for i, (_, cb) in enumerate(net.callbacks_) if isinstance(cb, PrintLog)),
        len(net.callbacks_),
    )
    net.callbacks_.insert(position, (HOOK_NAME, hook))


# ------------------------------------------------------------ random stream
def _net_device(net):
    device = getattr(net, "device", "cpu")
    return torch.device("cpu" if device is None else device)


@contextlib.contextmanager
def same_random_stream(device=None):
    """Restart torch's random stream at its initial seed, then restore it.

    The CPU stream is always forked. CUDA streams are forked (and seeded) only
    when CUDA is already initialised or the net runs on CUDA: seeding through
    ``torch.manual_seed`` would otherwise queue a reseed of every CUDA device
    for whenever the caller first uses CUDA, changing the caller's stream.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    use_cuda = torch.cuda.is_available() and (
        torch.cuda.is_initialized() or device.type == "cuda"
    )
    devices = []
    if use_cuda:
        torch.cuda.init()  # apply the caller's pending seeds before saving
        devices = list(range(torch.cuda.device_count()))
    seed = torch.initial_seed()
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.default_generator.manual_seed(seed)
        if use_cuda:
            torch.cuda.manual_seed_all(seed)
        yield


# ------------------------------------------------------------ fit data
def prepare_fit_data(estimator, X, y01):
    """Return ``(X, y)`` in the types a skorch net's module and criterion need.

    The family hook behind ``SkorchAdapter.prepare_fit_data``: floating inputs
    (arrays, tensors, the values of a dict) are cast to the module's parameter
    dtype when it is known (a module instance, an initialised net or
    ``module__dtype``), else to float32; integer inputs (e.g. embedding
    indices) are kept. The 0/1 labels become floats of that dtype for a
    ``NeuralNetBinaryClassifier`` (its criterion needs the logits' dtype) and
    int64 for a ``NeuralNetClassifier``, whose module must have 2 outputs.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skorch import NeuralNetClassifier
    >>> from sklearn_fairif.adapters._skorch_training import prepare_fit_data
    >>> net = NeuralNetClassifier(torch.nn.Linear(3, 2))
    >>> X, y = prepare_fit_data(net, np.zeros((4, 3)), np.array([0, 1, 1, 0]))
    >>> X.dtype, y.dtype
    (dtype('float32'), dtype('int64'))
    """
    from skorch import NeuralNetBinaryClassifier

    if sparse.issparse(X):
        # torch's default collate would fail deep inside the first epoch.
        raise TypeError(
            "A skorch net needs dense inputs (an array, a tensor or a dict of "
            "them), got a SciPy sparse matrix (after the Pipeline's "
            "preprocessing, if any): convert it with .toarray(), or make the "
            "encoder dense (e.g. OneHotEncoder(sparse_output=False))."
        )
    dtype = _module_float_dtype(estimator)
    X = _cast_floats(X, dtype)
    y = _as_numpy(y01)
    if isinstance(estimator, NeuralNetBinaryClassifier):
        if dtype == torch.bfloat16:
            return X, torch.as_tensor(y.astype(np.float32)).to(dtype)
        return X, y.astype(_numpy_dtype(dtype))
    _check_two_outputs(estimator, X)
    return X, y.astype(np.int64)


def _as_numpy(a):
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _first_rows(X, device, rows=2):
    if isinstance(X, Mapping):
        return {k: _first_rows(v, device, rows) for k, v in X.items()}
    return torch.as_tensor(np.asarray(X[:rows]) if not isinstance(
        X, torch.Tensor) else X[:rows]).to(device)


def _module_float_dtype(net):
    """Return the module's floating parameter dtype when known, else float32."""
    initialized = getattr(net, "initialized_", False)
    module = net.module_ if initialized else net.module
    if isinstance(module, torch.nn.Module):
        for p in module.parameters():
            if p.is_floating_point():
                return p.dtype
    dtype = net.get_params(deep=False).get("module__dtype")
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def _cast_floats(X, dtype):
    """Cast floating arrays, tensors and dict values to ``dtype``.

    NumPy stays NumPy (skorch's own conversion then keeps the dtype), except
    for bfloat16, which NumPy lacks: those become tensors.
    """
    if isinstance(X, Mapping):
        return type(X)(**{k: _cast_floats(v, dtype) for k, v in X.items()})
    if isinstance(X, torch.Tensor):
        return X.to(dtype) if X.is_floating_point() else X
    if hasattr(X, "toarray") or not hasattr(X, "dtype") and not hasattr(
            X, "to_numpy"):
        return X  # sparse or exotic inputs: left to skorch
    array = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if not np.issubdtype(array.dtype, np.floating):
        return X
    if dtype == torch.bfloat16:
        return torch.as_tensor(array).to(dtype)
    return array.astype(_numpy_dtype(dtype), copy=False)


def _numpy_dtype(dtype):
    if dtype == torch.bfloat16:
        return np.float32
    return torch.empty((), dtype=dtype).numpy().dtype


def _check_two_outputs(net, X):
    """Raise for a ``NeuralNetClassifier`` whose module has one output.

    A module instance is probed on two rows (eval mode, no gradients, modes
    restored); a module class is judged by ``module__out_features``.
    """
    name = type(net).__name__
    outputs = net.get_params(deep=False).get("module__out_features")
    module = net.module
    if outputs is None and isinstance(module, torch.nn.Module):
        try:
            device = next(module.parameters()).device
            xb = _first_rows(X, device)
            modes = [m.training for m in module.modules()]
            module.eval()
            try:
                with torch.no_grad():
                    out = module(**xb) if isinstance(xb, Mapping) else module(xb)
            finally:
                for m, mode in zip(module.modules(), modes, strict=True):
                    m.training = mode
            out = out[0] if isinstance(out, tuple) else out
            outputs = 1 if out.dim() < 2 else out.shape[1]
        except Exception:  # noqa: BLE001 - the fit reports its own errors
            return
    if outputs == 1:
        raise ValueError(
            f"{name} needs a module with 2 outputs (one logit or probability "
            "per class) for FairIF; its module returns 1. Use "
            "NeuralNetBinaryClassifier for a single-logit module, or give the "
            "module 2 outputs."
        )
