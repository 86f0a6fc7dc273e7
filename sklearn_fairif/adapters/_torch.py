"""Matrix-free influence for skorch networks (torch is imported here only).

Parameters ``theta`` are the chosen named parameters of the net's module,
flattened in ``named_parameters()`` order into one vector of length ``P``. The
mean training objective is

    L(theta) = (1/n) sum_i s_i * ell_i(theta) + (1/2) sum_p wd_p * theta_p^2,

with ``ell_i`` the per-sample loss of the net's criterion (its class weights and
``pos_weight`` included), ``s_i`` the sample weights the adapter is built with
and ``wd_p`` the weight decay the net's optimizer applies to parameter ``p``.
The weighted refit (:meth:`SkorchAdapter.fit`) minimises exactly this objective
batch by batch, so the two agree (with unit weights it is skorch's mean loss;
with a class-weighted criterion the batch loss is normalised by the batch
size rather than by the sum of class weights).

Everything is computed in eval mode (dropout off, batch-norm running
statistics) on the device where the module's parameters live, with
``torch.func.functional_call``, streaming over the data in batches:

* the constraint gradients are one ``vjp`` per validation batch and one
  backward pass per constraint;
* Hessian-vector products are double backward (the gradient's graph built
  once per batch, one more backward pass per direction), by default on a
  fixed subsample of at most ``hessian_samples`` training rows;
* ``grad_dot`` is one forward-mode ``jvp`` of the per-sample losses along each
  ``u_c`` per batch, so no ``n x P`` matrix of per-sample gradients is built.

Peak extra memory is therefore ``O(batch * P + P)`` per right-hand side.
"""

import contextlib
import copy
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import clone
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from skorch.callbacks import Callback, PrintLog
from skorch.helper import SliceDict
from torch.func import functional_call, jvp, vjp

# Keys under which the weighted refit carries its data through skorch. They are
# removed before the module's forward pass, so the user's module never sees them.
_WEIGHT_KEY = "__fairif_sample_weight__"
_X_KEY = "__fairif_X__"
# Name of the temporary callback of ``SkorchAdapter.fit(on_epoch_end=...)``.
_HOOK_NAME = "__fairif_epoch_hook__"

# Criteria with a per-sample log-likelihood on a binary head, per net class.
_CRITERIA = {
    NeuralNetBinaryClassifier: (torch.nn.BCEWithLogitsLoss, torch.nn.BCELoss),
    NeuralNetClassifier: (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss),
}

# Default size of the Hessian's row subsample (see ``hessian_samples``).
HESSIAN_SAMPLES = 10_000

# Columns of the identity per batched HVP when building a dense Hessian.
_HESSIAN_CHUNK = 128


class SkorchAdapter:
    """Influence adapter for skorch ``NeuralNetClassifier`` and binary nets.

    Parameters
    ----------
    estimator : NeuralNetClassifier or NeuralNetBinaryClassifier
        A fitted net with a binary head: one logit (``BCEWithLogitsLoss``),
        one probability (``BCELoss``), two logits (``CrossEntropyLoss``) or two
        probabilities (``NLLLoss``, skorch's default).
    X : array-like, tensor or dict of those
        The training inputs, in the format the net was fitted on.
    y : array-like of shape (n_samples,)
        The training targets.
    sample_weight : array-like of shape (n_samples,)
        The weights the net was fitted with (they enter the Hessian only).
    influence_params : "all", "last_layer" or list of str, default="all"
        Which parameters the influence is taken over; the others are held
        fixed. ``"last_layer"`` is the last module with trainable parameters
        to run in the forward pass (the usual choice for large pretrained
        networks); a list names entries of ``module_.named_parameters()``.
    batch_size : int, default=None
        Rows per batch of every pass over the data; ``None`` uses the net's
        ``iterator_valid__batch_size`` or else its ``batch_size`` (-1 meaning
        all rows at once, as in skorch).
    hessian_samples : int or None, default=10_000
        Estimate the Hessian on a fixed random subset of this many training
        rows when there are more (``None``: always all rows). Each CG
        iteration then costs ``hessian_samples / n`` of a pass over the data
        instead of a full pass; the gradients and the per-sample influences
        still use every row. On the 100k-row benchmark the influences
        correlate at 0.999 with the full-Hessian ones, at a tenth of the
        cost (benchmarks/results/torch_influence.md).
    random_state : int, default=0
        Seed of the ``hessian_samples`` subset.
    verbose : int, default=0
        Progress bars over the passes over the training data when > 1.

    Notes
    -----
    Weight decay is read from the net's optimizer, per parameter group, and
    treated as the L2 penalty ``wd/2 ||theta||^2``. That is exact for SGD,
    Adam and other optimizers that add ``wd * theta`` to the gradient, and an
    approximation for AdamW's decoupled decay.

    The influence treats every row of ``X`` as a training row, also when the
    net's ``train_split`` held some of them out for validation.
    """

    default_solver = "cg"
    # A network stopped by a stochastic optimiser sits near, not at, a minimum:
    # its Hessian has small negative eigenvalues that damping must cover.
    default_damping = 1e-2

    # ---------------------------------------------------------- class hooks
    @staticmethod
    def supports(estimator):
        """Whether ``estimator`` is a skorch classifier."""
        return isinstance(estimator, tuple(_CRITERIA))

    @staticmethod
    def check_estimator(estimator):
        """Raise ``ValueError`` for a criterion with no binary log-likelihood."""
        allowed = next(c for k, c in _CRITERIA.items() if isinstance(estimator, k))
        criterion = estimator.criterion
        criterion_cls = criterion if isinstance(criterion, type) else type(criterion)
        if not (isinstance(criterion_cls, type) and issubclass(criterion_cls, allowed)):
            names = " or ".join(c.__name__ for c in allowed)
            raise ValueError(
                f"{type(estimator).__name__} needs criterion={names} for influence "
                f"functions, got {getattr(criterion_cls, '__name__', criterion_cls)}."
            )

    @staticmethod
    def fit(estimator, X, y, sample_weight, *, on_epoch_end=None, **fit_params):
        """Fit a clone of ``estimator`` with per-sample weights.

        The weights travel with ``X`` in a :class:`skorch.helper.SliceDict`, so
        skorch batches and splits them with the data; they are stripped before
        the forward pass and multiply the unreduced loss in ``get_loss``. The
        returned net is of the user's class.

        Both stages of FairIF start from the same state: a module given as an
        instance (e.g. pretrained) is copied by ``clone``, the weights of an
        initialised net (e.g. after ``load_params``) are loaded into the clone,
        and the random stream (initialisation, shuffling, dropout) restarts
        from ``torch.initial_seed()`` without disturbing the caller's.

        Parameters
        ----------
        estimator : NeuralNetClassifier or NeuralNetBinaryClassifier
            Not modified.
        X : array-like, tensor or dict of those
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets.
        sample_weight : array-like of shape (n_samples,)
            Per-sample weights. A float64 ndarray is used as is, not copied:
            every batch reads its rows when it is drawn, so ``on_epoch_end``
            may update the weights in place for the next epochs.
        on_epoch_end : callable, default=None
            Called as ``on_epoch_end(net)`` after every epoch (after the net's
            own callbacks, before its ``PrintLog``); used by IFFair to
            reweight during training. It is not kept in the returned net.
        **fit_params : dict
            Passed to the net's ``partial_fit``.

        Returns
        -------
        net : estimator
            The fitted clone.
        """
        base = type(estimator)
        net = clone(estimator)
        net.__class__ = _weighted_class(base)
        initial_state = None
        if getattr(estimator, "initialized_", False):
            initial_state = copy.deepcopy(estimator.module_.state_dict())
        weights = np.asarray(sample_weight, dtype=np.float64)
        Xw = _attach_weights(X, weights)
        hook = None
        try:
            with _same_random_stream():
                net.initialize()
                if initial_state is not None:
                    net.module_.load_state_dict(initial_state)
                hook = _add_epoch_hook(net, on_epoch_end)
                net.partial_fit(Xw, y, **fit_params)
        finally:
            net.__class__ = base
            if hook is not None:
                net.callbacks_ = [
                    (n, cb) for n, cb in net.callbacks_ if cb is not hook
                ]
        return net

    # ------------------------------------------------------------ set-up
    def __init__(self, estimator, X, y, sample_weight, *, influence_params="all",
                 batch_size=None, hessian_samples=HESSIAN_SAMPLES, random_state=0,
                 verbose=0):
        self.net = estimator
        self.module = estimator.module_
        self.verbose = verbose
        self._head = _Head(estimator)
        first = next(self.module.parameters())
        self.device, self.dtype = first.device, first.dtype
        self.batch_size = batch_size or _net_batch_size(estimator)
        self._X = _place(_to_tensors(X, self.dtype), self.device)
        self.n_samples = len(y)
        self._y = self._head.target(y, self.dtype).to(self.device)
        self._sw = torch.as_tensor(
            np.asarray(sample_weight, dtype=float), dtype=self.dtype,
            device=self.device,
        )
        self.param_names = _select_params(
            self.module, influence_params, lambda: self._probe_input()
        )
        named = dict(self.module.named_parameters())
        chosen = [named[name].detach() for name in self.param_names]
        self._shapes = [p.shape for p in chosen]
        self._sizes = [p.numel() for p in chosen]
        self.theta = torch.cat([p.reshape(-1) for p in chosen])
        self.n_params = self.theta.numel()
        # Everything else is a constant: the other parameters and the buffers.
        self._fixed = {
            name: p.detach() for name, p in named.items()
            if name not in set(self.param_names)
        }
        self._fixed.update(dict(self.module.named_buffers()))
        self._wd = _weight_decay(estimator, self.module, self.param_names,
                                 self.theta)
        self._hessian_data = self._hessian_subset(hessian_samples, random_state)
        with self._eval():  # fail early on a head that is not binary
            self._head.margin(self._forward(self.theta, self._probe_input()))

    def _hessian_subset(self, hessian_samples, random_state):
        """Training rows of the Hessian: all, or a fixed random subset.

        The Hessian is a mean over rows, so a few thousand random rows estimate
        it well while every HVP (one per CG iteration) gets that much cheaper;
        the influence itself (``grad_dot``) always uses every row.
        """
        if hessian_samples is None or hessian_samples >= self.n_samples:
            return self._X, self._y, self._sw
        rng = np.random.default_rng(random_state)
        rows = np.sort(rng.choice(self.n_samples, hessian_samples, replace=False))
        on_device = torch.as_tensor(rows, device=self.device)
        return (_take(self._X, rows, self.device), self._y[on_device],
                self._sw[on_device])

    def _probe_input(self):
        return _take(self._X, slice(0, min(2, self.n_samples)), self.device)

    # ------------------------------------------------------------ helpers
    def _params(self, theta):
        flat = torch.split(theta, self._sizes)
        params = {
            name: t.view(shape)
            for name, t, shape in zip(self.param_names, flat, self._shapes,
                                      strict=True)
        }
        return {**self._fixed, **params}

    def _forward(self, theta, xb):
        """Return the module's first output at parameters ``theta``."""
        if isinstance(xb, Mapping):
            out = functional_call(self.module, self._params(theta), (), dict(xb))
        else:
            out = functional_call(self.module, self._params(theta), (xb,))
        return out[0] if isinstance(out, tuple) else out

    def _losses(self, theta, xb, yb):
        """Per-sample losses ``ell_i`` of a batch, shape (b,)."""
        return self._head.loss(self._forward(theta, xb), yb)

    def _batches(self, n, desc=None):
        """Yield slices of ``batch_size`` rows; a progress bar when verbose."""
        size = self.batch_size or max(n, 1)  # None: one batch of everything
        starts = range(0, n, size)
        if desc is not None and self.verbose > 1:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, leave=False)
        for start in starts:
            yield slice(start, min(start + size, n))

    @contextlib.contextmanager
    def _eval(self):
        """Eval mode and no outer autograd graph; restores the module's modes."""
        modes = [m.training for m in self.module.modules()]
        self.module.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for m, mode in zip(self.module.modules(), modes, strict=True):
                m.training = mode

    # ------------------------------------------------------- the protocol
    def decision_function(self, X):
        """Margins ``z`` (the positive class's logit) as a NumPy array."""
        X = _place(_to_tensors(X, self.dtype), self.device)
        n = _length(X)
        out = []
        with self._eval():
            for index in self._batches(n):
                xb = _take(X, index, self.device)
                out.append(self._head.margin(self._forward(self.theta, xb)))
        return self.to_numpy(torch.cat(out)).astype(float)

    def logit_vjp(self, X, G):
        """``sum_j G[j, c] * grad z_j`` for each column of ``G``, shape (P, k)."""
        X = _place(_to_tensors(X, self.dtype), self.device)
        G = self.from_numpy(G)
        total = torch.zeros(self.n_params, G.shape[1], dtype=self.dtype,
                            device=self.device)
        with self._eval():
            for index in self._batches(_length(X)):
                xb = _take(X, index, self.device)
                _, pull = vjp(
                    lambda t, xb=xb: self._head.margin(self._forward(t, xb)),
                    self.theta,
                )
                for c in range(G.shape[1]):  # one backward pass per constraint
                    total[:, c] += pull(G[index, c])[0]
        return total

    def hvp(self, V, batch=None):
        """Hessian of the mean training objective times ``V`` (P × k).

        Parameters
        ----------
        V : tensor of shape (P, k)
            Directions.
        batch : array-like of int, default=None
            Training rows of a mini-batch estimate (LiSSA); ``None`` uses all
            rows, or the fixed subset of ``hessian_samples`` rows.

        Returns
        -------
        HV : tensor of shape (P, k)
        """
        V = self.from_numpy(V)
        if batch is None:
            X, y, w = self._hessian_data
        else:
            rows = np.asarray(batch)
            on_device = torch.as_tensor(rows, device=self.device)
            X = _take(self._X, rows, self.device)
            y, w = self._y[on_device], self._sw[on_device]
        n = len(y)
        total = torch.zeros_like(V)
        with self._eval():
            for index in self._batches(n):
                total += self._hvp_batch(
                    V, _take(X, index, self.device), y[index], w[index], n
                )
        return total + self._wd[:, None] * V

    def _hvp_batch(self, V, xb, yb, wb, n):
        """One batch's share of ``H @ V`` by double backward.

        The gradient's graph is built once and differentiated once per column
        (measured faster on CPU than ``jvp`` of ``grad``, vmapped or not).
        """
        with torch.enable_grad():
            theta = self.theta.detach().requires_grad_(True)
            objective = (wb * self._losses(theta, xb, yb)).sum() / n
            (gradient,) = torch.autograd.grad(objective, theta, create_graph=True)
            if not gradient.requires_grad:  # no curvature at all in this batch
                return torch.zeros_like(V)
            columns = [
                torch.autograd.grad(
                    gradient, theta, V[:, c], retain_graph=c < V.shape[1] - 1,
                    allow_unused=True, materialize_grads=True,
                )[0]
                for c in range(V.shape[1])
            ]
        return torch.stack(columns, dim=1)

    def hessian(self):
        """Dense Hessian of the mean objective (P × P), column block by block."""
        H = torch.empty(self.n_params, self.n_params, dtype=self.dtype,
                        device=self.device)
        eye = torch.eye(self.n_params, dtype=self.dtype, device=self.device)
        starts = range(0, self.n_params, _HESSIAN_CHUNK)
        if self.verbose > 1:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Hessian", leave=False)
        for start in starts:
            stop = min(start + _HESSIAN_CHUNK, self.n_params)
            H[:, start:stop] = self.hvp(eye[:, start:stop])
        return (H + H.T) / 2  # symmetric up to rounding

    def grad_dot(self, U):
        """``grad ell_i . U[:, c]`` for every training row, NumPy (n, k).

        One forward-mode ``jvp`` of the batch's per-sample losses along each
        column of ``U``; the result stays on the device until the end.
        """
        U = self.from_numpy(U)
        out = torch.empty(self.n_samples, U.shape[1], dtype=self.dtype,
                          device=self.device)
        with self._eval():
            for index in self._batches(self.n_samples, desc="influence"):
                xb = _take(self._X, index, self.device)
                yb = self._y[index]

                def losses(theta, xb=xb, yb=yb):
                    return self._losses(theta, xb, yb)

                for c in range(U.shape[1]):  # a loop beats vmap here on CPU
                    out[index, c] = _jvp(losses, self.theta, U[:, c])
        return self.to_numpy(out).astype(float)

    def to_numpy(self, a):
        """Return a NumPy copy of a tensor (moved off the device)."""
        if isinstance(a, torch.Tensor):
            return a.detach().cpu().numpy()
        return np.asarray(a)

    def from_numpy(self, a):
        """Return a tensor in the parameters' dtype, on their device."""
        if isinstance(a, torch.Tensor):
            return a.to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=self.dtype,
                               device=self.device)


def _jvp(f, x, v):
    """``J_f(x) v`` by forward mode, without torch's internal deprecation noise.

    The first forward-mode call scripts torch's JVP decompositions with
    ``torch.jit.script``, which warns on torch >= 2.9; the user can do nothing
    about it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.script.*", category=DeprecationWarning
        )
        return jvp(f, (x,), (v,))[1]


# ------------------------------------------------------------------ the head
class _Head:
    """How the net's output gives the binary margin and the per-sample loss.

    Mirrors skorch's ``get_loss``: ``NLLLoss`` (skorch's default) expects
    probabilities and takes ``log(p + eps)``, the binary net flattens an
    ``(n, 1)`` output. The loss is the net's own criterion with
    ``reduction="none"``, so class weights and ``pos_weight`` are kept.
    """

    def __init__(self, net):
        self.criterion = copy.deepcopy(net.criterion_)
        self.criterion.reduction = "none"
        self.binary = isinstance(net, NeuralNetBinaryClassifier)
        self.probabilities = isinstance(
            self.criterion, (torch.nn.NLLLoss, torch.nn.BCELoss)
        )

    def _prepare(self, out):
        if self.binary:
            if out.dim() > 2 or (out.dim() == 2 and out.shape[1] != 1):
                raise ValueError(
                    "A NeuralNetBinaryClassifier's module must return shape (n,) "
                    f"or (n, 1), got {tuple(out.shape)}."
                )
            return out.reshape(-1)
        if out.dim() != 2 or out.shape[1] != 2:
            raise ValueError(
                "FairIF needs a binary head: the module of a NeuralNetClassifier "
                f"must return shape (n, 2), got {tuple(out.shape)}."
            )
        if self.probabilities:
            return torch.log(out + torch.finfo(out.dtype).eps)
        return out

    def margin(self, out):
        """Binary margin ``z``: the logit, or ``logit1 - logit0``."""
        out = self._prepare(out)
        if not self.binary:
            return out[:, 1] - out[:, 0]
        if self.probabilities:  # BCELoss: the module returns p
            eps = torch.finfo(out.dtype).eps
            return torch.log(out + eps) - torch.log1p(-out + eps)
        return out

    def loss(self, out, y):
        """Per-sample loss, shape (b,)."""
        return self.criterion(self._prepare(out), y)

    def target(self, y, dtype):
        """Targets as the criterion expects them."""
        y = torch.as_tensor(np.asarray(y))
        return y.to(dtype) if self.binary else y.long()


# ---------------------------------------------------------- parameters
def _select_params(module, influence_params, probe):
    """Names of the parameters the influence is taken over, in module order."""
    trainable = [n for n, p in module.named_parameters() if p.requires_grad]
    if isinstance(influence_params, str) and influence_params == "all":
        return trainable
    if isinstance(influence_params, str) and influence_params == "last_layer":
        return _last_layer(module, probe)
    if isinstance(influence_params, str):
        raise ValueError(
            "influence_params must be 'all', 'last_layer' or a list of parameter "
            f"names, got {influence_params!r}."
        )
    wanted = list(influence_params)
    unknown = [n for n in wanted if n not in dict(module.named_parameters())]
    if unknown or not wanted:
        raise ValueError(
            f"Unknown parameter names {unknown} in influence_params; the module "
            f"has: {[n for n, _ in module.named_parameters()]}."
        )
    return [n for n, _ in module.named_parameters() if n in set(wanted)]


def _last_layer(module, probe):
    """Parameters of the last module with trainable parameters to *run*.

    Execution order (seen by forward hooks on two rows) rather than
    registration order, so a module that defines its head before its body
    still gets its head.
    """
    order, hooks = [], []
    for name, sub in module.named_modules():
        if any(p.requires_grad for p in sub.parameters(recurse=False)):
            hooks.append(sub.register_forward_hook(
                lambda *_, name=name: order.append(name)
            ))
    modes = [m.training for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            xb = probe()
            module(**xb) if isinstance(xb, Mapping) else module(xb)
    finally:
        for hook in hooks:
            hook.remove()
        for m, mode in zip(module.modules(), modes, strict=True):
            m.training = mode
    if not order:
        raise ValueError("The module has no trainable parameters.")
    last = order[-1]
    prefix = f"{last}." if last else ""
    return [
        n for n, p in module.named_parameters()
        if p.requires_grad and n.startswith(prefix) and "." not in n[len(prefix):]
    ]


def _weight_decay(net, module, names, theta):
    """Per-coordinate weight decay of the chosen parameters, shape (P,)."""
    decay = {}
    optimizer = getattr(net, "optimizer_", None)
    for group in [] if optimizer is None else optimizer.param_groups:
        for p in group["params"]:
            decay[id(p)] = float(group.get("weight_decay", 0.0) or 0.0)
    named = dict(module.named_parameters())
    parts = [
        torch.full((named[n].numel(),), decay.get(id(named[n]), 0.0),
                   dtype=theta.dtype, device=theta.device)
        for n in names
    ]
    return torch.cat(parts)


def _net_batch_size(net):
    """Return the net's inference batch size; ``None`` for -1 (all rows)."""
    size = getattr(net, "iterator_valid__batch_size", net.batch_size)
    return None if size is None or size == -1 else int(size)


# --------------------------------------------------------------- the data
def _to_tensors(X, dtype):
    """Convert inputs to tensors (kept where they are); cast floats to dtype."""
    if isinstance(X, Mapping):
        return {k: _to_tensors(v, dtype) for k, v in X.items()}
    if not isinstance(X, torch.Tensor):
        if hasattr(X, "toarray"):  # scipy sparse
            X = X.toarray()
        elif hasattr(X, "to_numpy"):  # pandas
            X = X.to_numpy()
        X = torch.as_tensor(np.asarray(X))
    return X.to(dtype) if X.is_floating_point() else X


def _place(X, device):
    """Keep the data where it is, unless it fits comfortably on the GPU.

    On CUDA the influence makes many passes over the data (one per CG
    iteration); moving the inputs once, when they take less than a quarter
    of the free memory, saves the per-batch host-to-device copies.
    """
    if device.type != "cuda":
        return X
    tensors = list(X.values()) if isinstance(X, Mapping) else [X]
    nbytes = sum(t.numel() * t.element_size() for t in tensors)
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes > free // 4:
        return X
    if isinstance(X, Mapping):
        return {k: v.to(device) for k, v in X.items()}
    return X.to(device)


def _length(X):
    return len(next(iter(X.values()))) if isinstance(X, Mapping) else len(X)


def _take(X, index, device):
    """Rows ``index`` (a slice or NumPy indices) of the inputs, on ``device``.

    Indices are built where the data lives, so nothing comes back from the
    GPU to index host memory.
    """
    if isinstance(X, Mapping):
        return {k: _take(v, index, device) for k, v in X.items()}
    if isinstance(index, np.ndarray):
        index = torch.as_tensor(index, device=X.device)
    return X[index].to(device, non_blocking=True)


# ------------------------------------------------------ the weighted refit
class _WeightedFitMixin:
    """Reads per-sample weights from the batch and weights the loss with them.

    The weights ride along ``X`` under :data:`_WEIGHT_KEY`; :meth:`infer`
    removes them before the module runs and :meth:`get_loss` multiplies the
    criterion's unreduced loss by them. Normalising by the batch size keeps
    unit weights equal to the plain mean loss.
    """

    def infer(self, x, **fit_params):
        """Forward pass without the weights."""
        return super().infer(_detach_weights(x)[0], **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted mean of the per-sample losses when the batch has weights."""
        X, weights = _detach_weights(X)
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


def _attach_weights(X, weights):
    if isinstance(X, Mapping):
        if _WEIGHT_KEY in X:
            raise ValueError(f"X must not contain the key {_WEIGHT_KEY!r}.")
        return SliceDict(**X, **{_WEIGHT_KEY: weights})
    return SliceDict(**{_X_KEY: X, _WEIGHT_KEY: weights})


def _detach_weights(X):
    """Split a batch into ``(inputs without the weights, weights or None)``."""
    if not isinstance(X, Mapping) or _WEIGHT_KEY not in X:
        return X, None
    weights = X[_WEIGHT_KEY]
    if _X_KEY in X:
        return X[_X_KEY], weights
    rest = {k: v for k, v in X.items() if k != _WEIGHT_KEY}
    return (SliceDict(**rest) if isinstance(X, SliceDict) else rest), weights


class _EpochEndHook(Callback):
    """A skorch callback that calls ``fn(net)`` at the end of every epoch."""

    def __init__(self, fn):
        self.fn = fn

    def on_epoch_end(self, net, **kwargs):
        """Call the function."""
        self.fn(net)


def _add_epoch_hook(net, fn):
    """Insert ``fn`` as a callback of an initialised net, before its PrintLog.

    Added to ``callbacks_`` directly, so the net's ``callbacks`` parameter
    (what ``get_params`` and ``clone`` see) is left untouched.
    """
    if fn is None:
        return None
    hook = _EpochEndHook(fn)
    hook.initialize()
    position = next(
        (i for i, (_, cb) in enumerate(net.callbacks_) if isinstance(cb, PrintLog)),
        len(net.callbacks_),
    )
    net.callbacks_.insert(position, (_HOOK_NAME, hook))
    return hook


@contextlib.contextmanager
def _same_random_stream():
    """Restart torch's random stream at its initial seed, then restore it."""
    devices = []
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        devices = list(range(torch.cuda.device_count()))
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(torch.initial_seed())
        yield
