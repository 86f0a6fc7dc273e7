"""Matrix-free influence for skorch networks (torch is imported here only).

Parameters ``theta`` are the chosen named parameters of the net's module,
flattened in ``named_parameters()`` order into one vector of length ``P``. The
mean training objective is

    L(theta) = (1/n) sum_i s_i * ell_i(theta) + (1/2) sum_p wd_p * theta_p^2,

with ``ell_i`` the per-sample loss of the net's criterion (its class weights and
``pos_weight`` included), ``s_i`` the sample weights the adapter is built with
and ``wd_p`` the weight decay the net's optimizer applies to parameter ``p``.
The weighted refit (:func:`~._skorch_training.fit_weighted_net`) minimises
exactly this objective batch by batch, so the two agree (with unit weights it
is skorch's mean loss; with a class-weighted criterion the batch loss is
normalised by the batch size rather than by the sum of class weights).

Everything is computed in eval mode (dropout off, batch-norm running
statistics) on the device where the module's parameters live, with
``torch.func.functional_call``, streaming over the data in batches, in at
least float32 (a float16/bfloat16 module is evaluated in float32) and with
exact float32 arithmetic (TF32 off, cuDNN off for recurrent modules, the
math kernel for attention; see :func:`_exact_backends`):

* the constraint gradients are one backward pass per validation batch and
  constraint, batched into one pass on an accelerator (``is_grads_batched``:
  all k constraints at once);
* Hessian-vector products are double backward: the gradient's graph is
  built once per batch and differentiated along all k directions (at once
  on an accelerator), by default on a fixed subsample of
  ``default_hessian_samples`` rows;
* ``grad_dot`` is a vmapped forward-mode ``jvp`` of the per-sample losses
  along the ``u_c`` per batch, so no ``n x P`` matrix of per-sample gradients
  is built; on the CPU, ``influence_dot_tasks`` splits it into blocks of
  whole batches for joblib workers.

Peak extra memory is therefore ``O(k * batch * P + P)``.
"""

import contextlib
import copy
import threading
from collections.abc import Mapping

import numpy as np
import torch
from scipy import sparse
from skorch import NeuralNetBinaryClassifier, NeuralNetClassifier
from torch.func import functional_call

from ._protocol import RowTasks, held_rows, row_blocks
from ._skorch_training import fit_weighted_net, prepare_fit_data
from ._torch_net import (
    _as_tensor,
    _Head,
    _length,
    _net_batch_size,
    _on,
    _place,
    _select_params,
    _take,
    _to_tensors,
    _weight_decay,
)
from ._torch_ops import (
    _batched_grad,
    _batched_jvp,
    _cuda_batch_size,
    _exact_backends,
    _has_rnn,
    _same_indices,
)

# Criteria with a per-sample log-likelihood on a binary head, per net class.
_CRITERIA = {
    NeuralNetBinaryClassifier: (torch.nn.BCEWithLogitsLoss, torch.nn.BCELoss),
    NeuralNetClassifier: (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss),
}

# Rule for the Hessian's row subsample (``default_hessian_samples``): all rows
# up to HESSIAN_ALL_ROWS, then a tenth of the rows, at least
# HESSIAN_MIN_SAMPLES and at most HESSIAN_MAX_SAMPLES (see the property's
# docstring for the reasoning).
HESSIAN_ALL_ROWS = 4_096
HESSIAN_MIN_SAMPLES = 3_000
HESSIAN_MAX_SAMPLES = 10_000

# Rows per batch of the influence passes on the CPU when the net's own
# inference batch is smaller (measured in benchmarks/results/torch_influence.md:
# per-row cost falls until a few thousand rows, then flattens).
CPU_BATCH_SIZE = 4_096

# Backward passes along k columns (the HVPs, ``influence_dot_t``,
# ``logit_vjp``) are batched into one (``is_grads_batched``) on accelerators
# only: on the CPU a loop over the columns, reusing one graph, is faster at
# every k (the COMPAS MLP, 3009 parameters: HVP 1.2x at k=2, 2.3x at k=22,
# 5x at k=128; influence_dot_t 1.3-2x).

# Columns of the identity per batched HVP when building a dense Hessian.
_HESSIAN_CHUNK = 128

# Up to this many influence parameters the exact solver is the default: the
# dense Hessian is 8 batched HVP passes and 8 MB (float64).
MAX_EXACT_PARAMS = 1024

# Serialises the influence blocks that joblib's threads (or a Dask worker's)
# run in one process, see _grad_dot_block.
_BLOCK_LOCK = threading.Lock()


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
    y : array-like or tensor of shape (n_samples,)
        The training targets (a tensor may live on any device).
    sample_weight : array-like or tensor of shape (n_samples,)
        The weights the net was fitted with (they enter the Hessian only).
    influence_params : "all", "last_layer" or list of str, default="all"
        Which parameters the influence is taken over; the others are held
        fixed. ``"last_layer"`` is the last module with trainable parameters
        to run in the forward pass (the usual choice for large pretrained
        networks); a list names entries of ``module_.named_parameters()``.
    batch_size : int, default=None
        Rows per batch of every pass over the data. ``None``: the net's
        ``iterator_valid__batch_size`` when set (-1: all rows at once);
        otherwise on the CPU the larger of the net's ``batch_size`` and
        :data:`CPU_BATCH_SIZE`, on CUDA sized from the free device memory
        (PyTorch's cached blocks counted as free, see
        :func:`_cuda_batch_size`).
    hessian_samples : "auto", int or None, default="auto"
        Estimate the Hessian on a fixed random subset of this many training
        rows when there are more (``None``: always all rows; ``"auto"``:
        :attr:`default_hessian_samples`). Each CG iteration then costs
        ``hessian_samples / n`` of a pass over the data instead of a full
        pass; the gradients and the per-sample influences still use every row.
    random_state : int, default=0
        Seed of the ``hessian_samples`` subset.
    verbose : int, default=0
        Progress bars over the passes over the training data when > 1.

    Attributes
    ----------
    device : torch.device
        Where the module's parameters, and every pass, live.
    dtype : torch.dtype
        The computation dtype: the parameters' dtype, at least float32.

    Notes
    -----
    Weight decay is read from the net's optimizer, per parameter group, and
    treated as the L2 penalty ``wd/2 ||theta||^2``. That is exact for SGD,
    Adam and other optimizers that add ``wd * theta`` to the gradient, and an
    approximation for AdamW's decoupled decay.

    The influence treats every row of ``X`` as a training row, also when the
    net's ``train_split`` held some of them out for validation.
    """

    #: TF32 off during the influence passes. benchmarks/gpu_check.py sets it
    #: to False only to measure what TF32 costs in accuracy and iterations.
    exact_float32 = True
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
    def fit(estimator, X, y, sample_weight, **fit_params):
        """Fit a clone of ``estimator`` with per-sample weights.

        See :func:`~._skorch_training.fit_weighted_net` (``on_epoch_end``,
        ``estimator_name`` and the net's own fit parameters).
        """
        return fit_weighted_net(estimator, X, y, sample_weight, **fit_params)

    @staticmethod
    def warm_fit(fitted, X, y, sample_weight, **fit_params):
        """Fine-tune a copy of a fitted net with new weights, from its state."""
        return fit_weighted_net(fitted, X, y, sample_weight, **fit_params)

    @staticmethod
    def prepare_fit_data(estimator, X, y01):
        """Return ``(X, y)`` in the dtypes the net's module and criterion need.

        See :func:`~._skorch_training.prepare_fit_data`.
        """
        return prepare_fit_data(estimator, X, y01)

    @staticmethod
    def margins(estimator, X):
        """Binary margins of a fitted net on ``X``, without its training data."""
        with torch.no_grad():
            out = estimator.forward(X, training=False)
        out = out[0] if isinstance(out, tuple) else out
        margin = _Head(estimator).margin(out)
        return margin.detach().cpu().numpy().astype(float)

    # ------------------------------------------------------------ set-up
    def __init__(self, estimator, X, y, sample_weight, *, influence_params="all",
                 batch_size=None, hessian_samples="auto", random_state=0,
                 verbose=0):
        self.net = estimator
        self.module = estimator.module_
        self.verbose = verbose
        self._head = _Head(estimator)
        first = next(self.module.parameters())
        self.device = first.device
        self._batch_backward = self.device.type != "cpu"
        self.columnwise_hvp = not self._batch_backward  # see the protocol
        # Half-precision modules are evaluated in float32: CG in float16 would
        # lose the solution in rounding.
        self.dtype = torch.promote_types(first.dtype, torch.float32)
        self._has_rnn = _has_rnn(self.module)
        self._X = _place(_to_tensors(X, self.dtype), self.device)
        self.n_samples = _length(self._X)
        self._y = self._head.target(y, self.dtype).to(self.device)
        self._sw = _as_tensor(sample_weight, self.dtype, self.device)
        self._head.criterion.to(self.dtype)
        self.param_names = _select_params(self.module, influence_params,
                                          self._run_probe)
        named = dict(self.module.named_parameters())
        chosen = [named[name].detach() for name in self.param_names]
        self._shapes = [p.shape for p in chosen]
        self._sizes = [p.numel() for p in chosen]
        self.theta = torch.cat([p.reshape(-1) for p in chosen]).to(self.dtype)
        self.n_params = self.theta.numel()
        # Everything else is a constant: the other parameters and the buffers.
        fixed = {
            name: p.detach() for name, p in named.items()
            if name not in set(self.param_names)
        }
        fixed.update(dict(self.module.named_buffers()))
        self._fixed = {
            name: t.to(self.dtype) if t.is_floating_point() else t
            for name, t in fixed.items()
        }
        self._wd = _weight_decay(estimator, self.module, self.param_names,
                                 self.theta)
        self._input_cache = None  # (the caller's X object, its tensors)
        self._batch_cache = None  # (batch object, its copy, gathered rows)
        self.batch_size = (batch_size if batch_size is not None
                           else self._auto_batch_size(estimator))
        if isinstance(hessian_samples, str) and hessian_samples == "auto":
            hessian_samples = self.default_hessian_samples
        self.hessian_samples = hessian_samples
        self._hessian_data = self._hessian_subset(hessian_samples, random_state)
        with self._eval():  # fail early on a head that is not binary
            self._head.margin(self._forward(self.theta, self._probe_input()))

    @property
    def default_solver(self):
        """``"exact"`` up to :data:`MAX_EXACT_PARAMS` parameters, else ``"cg"``.

        A small parameter set (``influence_params="last_layer"``) has a
        Hessian of a few hundred HVPs, built once (128 columns per pass);
        every right-hand side is then a triangular solve, where under CG
        each of ``alpha="auto"``'s extra right-hand sides costs HVPs.
        """
        return "exact" if self.n_params <= MAX_EXACT_PARAMS else "cg"

    @property
    def default_hessian_samples(self):
        """Rows of the fixed Hessian subsample: ``None`` (all) or an int.

        All rows up to 4,096 (small data keeps the exact Hessian: a full
        pass is cheap there, and the 3,500-row CNN benchmark's influences
        moved with a 2,048-row subset); above that a tenth of the rows, at
        least 3,000 and at most 10,000. The Hessian is a mean over rows, so
        its estimation error depends on the number of rows used, not on
        ``n``: 3,000 random rows give influences that correlate at 0.995 with
        the full-Hessian ones at 30k rows, 10,000 at 0.998 at 100k
        (benchmarks/results/torch_influence.md). Each CG iteration costs
        ``rows / n`` of a pass over the data, so a tenth keeps the CG part a
        small share of an epoch for mid-sized data (the old fixed 10,000 rows
        cost 4-5 epochs at 30k rows, 3,000 cost 1.5) and the cap makes that
        share fall as ``n`` grows (0.6-0.7 epochs at 300k rows).
        """
        return default_hessian_samples(self.n_samples)

    def _auto_batch_size(self, estimator):
        # An explicit inference batch is the user's choice (e.g. a conv net
        # whose CPU passes are faster at 1,024 rows than at 4,096).
        explicit = getattr(estimator, "iterator_valid__batch_size", None)
        if explicit is not None:
            return None if explicit == -1 else int(explicit)
        if self.device.type != "cuda":
            net_size = _net_batch_size(estimator)
            return None if net_size is None else max(net_size, CPU_BATCH_SIZE)
        return _cuda_batch_size(self.device, self._bytes_per_row())

    def _bytes_per_row(self, rows=64):
        """Peak device memory per row of one HVP batch (measured on a probe)."""
        probe = min(rows, self.n_samples)
        xb = _take(self._X, slice(0, probe), self.device)
        torch.cuda.synchronize(self.device)
        base = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        V = torch.zeros(self.n_params, 2, dtype=self.dtype, device=self.device)
        with self._eval():
            self._hvp_batch(V, xb, self._y[:probe], self._sw[:probe], probe)
        peak = torch.cuda.max_memory_allocated(self.device)
        return max(peak - base, 1) / probe

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
        return self._gather(rows)

    def _gather(self, rows):
        """Training rows ``rows`` (NumPy or tensor indices), on the device.

        The indices are uploaded once and used for the targets, the weights
        and, when they live on the device, the inputs; inputs left on the
        host are indexed there.
        """
        if isinstance(rows, torch.Tensor):
            on_device = rows.to(self.device)
        else:
            rows = np.asarray(rows)
            on_device = torch.as_tensor(rows, device=self.device)
        X_rows = on_device if _on(self._X, self.device) else rows
        return (_take(self._X, X_rows, self.device), self._y[on_device],
                self._sw[on_device])

    def _probe_input(self):
        return _take(self._X, slice(0, min(2, self.n_samples)), self.device)

    def _run_probe(self):
        """Run the module's forward pass on two rows, in the computation dtype."""
        state = {
            name: t.detach().to(self.dtype) if t.is_floating_point() else t
            for name, t in [*self.module.named_parameters(),
                            *self.module.named_buffers()]
        }
        xb = self._probe_input()
        if isinstance(xb, Mapping):
            return functional_call(self.module, state, (), dict(xb))
        return functional_call(self.module, state, (xb,))

    def _inputs(self, X):
        """``X`` as tensors on the device; the last one given is cached.

        The solvers and the estimator pass the same validation set to
        ``decision_function`` and ``logit_vjp``: it is uploaded once.
        """
        cache = self._input_cache
        if cache is not None and cache[0] is X:
            return cache[1]
        tensors = _place(_to_tensors(X, self.dtype), self.device)
        self._input_cache = (X, tensors)
        return tensors

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
        out = out[0] if isinstance(out, tuple) else out
        return out.to(self.dtype) if out.is_floating_point() else out

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
        """Eval mode, no outer graph, exact backends; restores all of them."""
        modes = [m.training for m in self.module.modules()]
        self.module.eval()
        try:
            with torch.no_grad(), _exact_backends(self._has_rnn,
                                                  self.exact_float32):
                yield
        finally:
            for m, mode in zip(self.module.modules(), modes, strict=True):
                m.training = mode

    # ------------------------------------------------------- the protocol
    def decision_function(self, X):
        """Margins ``z`` (the positive class's logit) as a NumPy array."""
        X = self._inputs(X)
        out = []
        with self._eval():
            for index in self._batches(_length(X)):
                xb = _take(X, index, self.device)
                out.append(self._head.margin(self._forward(self.theta, xb)))
        return self.to_numpy(torch.cat(out)).astype(float)

    def logit_vjp(self, X, G):
        """``sum_j G[j, c] * grad z_j`` for each column of ``G``, shape (P, k).

        One backward pass per batch and column (one batched pass on an
        accelerator).
        """
        X = self._inputs(X)
        with self._eval():
            return self._summed_vjp(X, self._margin_fn, self.from_numpy(G))

    def logit_jvp(self, X, V):
        """``grad z_j . V[:, c]`` for every row of ``X``, NumPy (m, k).

        One vmapped forward-mode ``jvp`` of the batch's margins along all k
        columns (the transpose of :meth:`logit_vjp`).
        """
        X = self._inputs(X)
        with self._eval():
            out = self._rowwise_jvp(X, self._margin_fn, self.from_numpy(V))
        return self.to_numpy(out).astype(float)

    def as_index(self, rows):
        """Row indices as an int64 tensor on the device (for LiSSA's batches)."""
        if isinstance(rows, torch.Tensor):
            return rows.to(self.device, torch.long)
        return torch.as_tensor(np.asarray(rows), dtype=torch.long,
                               device=self.device)

    def hvp(self, V, batch=None):
        """Hessian of the mean training objective times ``V`` (P × k).

        Parameters
        ----------
        V : tensor of shape (P, k)
            Directions.
        batch : array-like or tensor of int, default=None
            Training rows of a mini-batch or subsample estimate; ``None`` uses
            all rows, or the fixed subset of ``hessian_samples`` rows. The rows
            of the last ``batch`` are kept on the device, so repeated calls
            with the same index array (a solver's fixed subset) gather once.

        Returns
        -------
        HV : tensor of shape (P, k)
        """
        V = self.from_numpy(V)
        X, y, w = (self._hessian_data if batch is None
                   else self._batch_rows(batch))
        n = len(y)
        total = torch.zeros_like(V)
        with self._eval():
            for index in self._batches(n):
                total += self._hvp_batch(
                    V, _take(X, index, self.device), y[index], w[index], n
                )
        return total + self._wd[:, None] * V

    def _batch_rows(self, batch):
        """Rows of ``batch``, gathered again only when the indices change."""
        cache = self._batch_cache
        if cache is not None and cache[0] is batch and _same_indices(cache[1], batch):
            return cache[2]
        rows = self._gather(batch)
        if isinstance(batch, torch.Tensor):
            # Identity plus the version counter: no device-to-host read.
            self._batch_cache = (batch, batch._version, rows)
        else:
            self._batch_cache = (batch, np.array(batch, copy=True), rows)
        return rows

    def _hvp_batch(self, V, xb, yb, wb, n):
        """One batch's share of ``H @ V`` by double backward.

        The gradient's graph is built once and differentiated along all k
        columns: in one batched backward pass on an accelerator (k kernels
        launched as one), column by column on the CPU (see above).
        """
        with torch.enable_grad():
            theta = self.theta.detach().requires_grad_(True)
            objective = (wb * self._losses(theta, xb, yb)).sum() / n
            (gradient,) = torch.autograd.grad(objective, theta, create_graph=True)
            if not gradient.requires_grad:  # no curvature at all in this batch
                return torch.zeros_like(V)
            return _batched_grad(gradient, theta, V.T,
                                 batched=self._batch_backward).T

    def hessian(self):
        """Dense Hessian of the mean objective (P × P), column block by block.

        Each block of identity columns is built on its own (P × 128), never
        the whole P × P identity.
        """
        P = self.n_params
        H = torch.empty(P, P, dtype=self.dtype, device=self.device)
        starts = range(0, P, _HESSIAN_CHUNK)
        if self.verbose > 1:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="Hessian", leave=False)
        for start in starts:
            stop = min(start + _HESSIAN_CHUNK, P)
            block = torch.zeros(P, stop - start, dtype=self.dtype,
                                device=self.device)
            block[start:stop] = torch.eye(stop - start, dtype=self.dtype,
                                          device=self.device)
            H[:, start:stop] = self.hvp(block)
        return (H + H.T) / 2  # symmetric up to rounding

    def grad_dot(self, U):
        """``grad ell_i . U[:, c]`` for every training row, NumPy (n, k).

        One vmapped forward-mode ``jvp`` of the batch's per-sample losses
        along all columns of ``U``; the result stays on the device until the
        end.
        """
        U = self.from_numpy(U)
        with self._eval():
            out = self._grad_dot_rows(self._X, self._y, U, desc="influence")
        return self.to_numpy(out).astype(float)

    def influence_dot_t(self, D):
        """``sum_i D[i, b] grad ell_i`` for each column of ``D`` (n, b): (P, b).

        The transpose of :meth:`grad_dot`: one forward and one batched
        backward pass per batch of rows for all ``b`` columns. A SciPy
        sparse ``D`` passes over only the rows it holds.
        """
        X, y = self._X, self._y
        if sparse.issparse(D):
            rows, D = held_rows(D)
            X, y = _own_rows(X, rows), _own_rows(y, rows)
        with self._eval():
            return self._summed_vjp(X, self._loss_fn(y), self.from_numpy(D),
                                    desc="influence")

    def _grad_dot_rows(self, X, y, U, desc=None):
        """``grad ell_i . U`` for the rows ``X``, ``y``, batch by batch (a tensor)."""
        return self._rowwise_jvp(X, self._loss_fn(y), U, desc=desc)

    # The two batch loops of the protocol's products. ``outputs(theta, xb,
    # index)`` gives one value per row of the batch ``xb`` (rows ``index``):
    # the margins, or the per-sample losses.
    def _margin_fn(self, theta, xb, index):
        return self._head.margin(self._forward(theta, xb))

    def _loss_fn(self, y):
        def losses(theta, xb, index):
            return self._losses(theta, xb, y[index])

        return losses

    def _summed_vjp(self, X, outputs, C, desc=None):
        """``sum_j C[j, c] grad outputs_j`` over the rows of ``X``, (P, k).

        One backward pass per batch and column, batched into one
        (``is_grads_batched``) on an accelerator.
        """
        total = torch.zeros(self.n_params, C.shape[1], dtype=self.dtype,
                            device=self.device)
        for index in self._batches(_length(X), desc=desc):
            xb = _take(X, index, self.device)
            with torch.enable_grad():
                theta = self.theta.detach().requires_grad_(True)
                total += _batched_grad(outputs(theta, xb, index), theta,
                                       C[index].T, batched=self._batch_backward).T
        return total

    def _rowwise_jvp(self, X, outputs, V, desc=None):
        """``grad outputs_j . V[:, c]`` for every row of ``X``, a tensor (m, k).

        One vmapped forward-mode ``jvp`` per batch along all k columns.
        """
        out = torch.empty(_length(X), V.shape[1], dtype=self.dtype,
                          device=self.device)
        for index in self._batches(_length(X), desc=desc):
            xb = _take(X, index, self.device)

            def f(theta, xb=xb, index=index):
                return outputs(theta, xb, index)

            out[index] = _batched_jvp(f, self.theta, V.T).T
        return out

    def influence_dot_tasks(self, U, n_blocks):
        """:meth:`grad_dot` as one task per block of whole batches (a RowTasks).

        Each block evaluates the very batches of the single pass. A task holds
        its block's rows (copies: a pickled view would carry the whole
        storage) and one data-free copy of the adapter that all tasks share
        (a Dask backend sends it to each worker once). Blocks run in
        parallel across processes (loky, a Dask cluster) only; threads take
        turns (see :func:`_grad_dot_block`), torch's own threads using the
        cores. A net on an accelerator returns ``None``: its single pass
        already runs in parallel on the device, and the rows would have to
        leave it.
        """
        if self.device.type != "cpu":
            return None
        worker, U = self._for_workers(), self.from_numpy(U)
        blocks = row_blocks(self.n_samples, n_blocks, self.batch_size or 1)
        tasks = [(_grad_dot_block, (worker, _own_rows(self._X, rows),
                                    self._y[rows].clone(), U))
                 for rows in blocks]
        return RowTasks(tasks)

    def _for_workers(self):
        """Return a shallow copy without the training data, net or caches."""
        worker = copy.copy(self)
        worker.net = worker._X = worker._y = worker._sw = None
        worker._hessian_data = worker._input_cache = worker._batch_cache = None
        return worker

    def to_numpy(self, a):
        """Return a NumPy copy of a tensor (moved off the device)."""
        if isinstance(a, torch.Tensor):
            return a.detach().cpu().numpy()
        return np.asarray(a)

    def from_numpy(self, a):
        """Return a tensor in the computation dtype, on the device."""
        if isinstance(a, torch.Tensor):
            return a.to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.asarray(a, dtype=float), dtype=self.dtype,
                               device=self.device)


def _grad_dot_block(adapter, X, y, U):
    """``grad_dot`` on one block of training rows: what a joblib worker runs.

    ``adapter`` comes from :meth:`SkorchAdapter._for_workers`. Blocks in one
    process run one at a time: torch's forward-mode AD levels, like the
    backend flags and the module's modes that ``_eval`` sets, are global, not
    per thread.
    """
    with _BLOCK_LOCK, adapter._eval():
        return adapter.to_numpy(adapter._grad_dot_rows(X, y, U)).astype(float)


def _own_rows(X, rows):
    """Rows ``rows`` (a slice) of the inputs, as tensors of their own."""
    if isinstance(X, Mapping):
        return {k: _own_rows(v, rows) for k, v in X.items()}
    return X[rows].clone()


def default_hessian_samples(n):
    """``None`` (all rows) up to 4,096 rows, else ``n // 10`` in [3,000, 10,000].

    Examples
    --------
    >>> from sklearn_fairif.adapters._torch import default_hessian_samples
    >>> [default_hessian_samples(n) for n in (1_000, 30_000, 300_000)]
    [None, 3000, 10000]
    """
    if n <= HESSIAN_ALL_ROWS:
        return None
    return min(max(HESSIAN_MIN_SAMPLES, n // 10), HESSIAN_MAX_SAMPLES)
