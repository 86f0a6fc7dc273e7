"""Torch operations of the skorch adapter: batched autograd, exact backends.

Batched reverse- and forward-mode products (one pass for k right-hand sides),
the context that makes influence passes exact on every backend (no TF32, no
cuDNN for RNNs, math attention), and the CUDA batch sizing. Imported only by
the skorch adapter, so torch is imported only when a network is wrapped.
"""

import contextlib
import warnings

import numpy as np
import torch
from torch.func import jvp, vmap

# On CUDA: the share of the free device memory (cached blocks included) that
# the influence passes may take, and the batch-size bounds.
CUDA_MEMORY_SHARE = 0.25
CUDA_BATCH_BOUNDS = (256, 65_536)


# ------------------------------------------------------- batched autograd
def _batched_grad(output, theta, cotangents, *, batched=True):
    """Rows ``c``: ``d(cotangents[c] . output) / d theta``, shape (k, P).

    One backward pass for all k rows (``is_grads_batched``, i.e. vmap over
    the backward); a module whose backward has no batching rule falls back to
    one pass per row.
    """
    k = cotangents.shape[0]
    if batched and k > 1:
        try:
            with warnings.catch_warnings():
                # "There is a performance drop because we have not yet
                # implemented the batching rule": still correct, still faster.
                warnings.filterwarnings("ignore", message=".*batching rule.*")
                (rows,) = torch.autograd.grad(
                    output, theta, cotangents, retain_graph=True,
                    is_grads_batched=True, allow_unused=True,
                    materialize_grads=True,
                )
            return rows
        except RuntimeError:
            pass
    return torch.stack([
        torch.autograd.grad(output, theta, cotangents[c], retain_graph=True,
                            allow_unused=True, materialize_grads=True)[0]
        for c in range(k)
    ])


def _batched_jvp(f, x, tangents):
    """Rows ``c``: ``J_f(x) tangents[c]``, shape (k, b), by vmapped forward mode."""
    if tangents.shape[0] > 1:
        try:
            return vmap(lambda t: _jvp(f, x, t))(tangents)
        except RuntimeError:  # no batching rule for some op: one pass per row
            pass
    return torch.stack([_jvp(f, x, t) for t in tangents])


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


# -------------------------------------------------------- exact backends
def _has_rnn(module):
    return any(isinstance(m, torch.nn.RNNBase) for m in module.modules())


@contextlib.contextmanager
def _exact_backends(has_rnn, exact_float32=True):
    """Backends the influence passes need, restored afterwards.

    * TF32 off (matmuls and cuDNN): with TF32 an HVP carries ~1e-3 relative
      error, enough for CG at tol=1e-6 to stall or see false negative
      curvature;
    * cuDNN off when the module has an RNN/LSTM/GRU: cuDNN's recurrent
      kernels support neither backward in eval mode nor double backward;
    * attention through the math kernel, and the fused
      ``TransformerEncoderLayer`` fast path off: the flash/fused kernels
      have no double backward and no forward-mode AD.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    cudnn = torch.backends.cudnn
    saved_fastpath = torch.backends.mha.get_fastpath_enabled()
    saved_cudnn = cudnn.enabled
    restore = []
    if exact_float32:
        restore = [_matmul_exact(), _set_precision(cudnn)]
    if has_rnn:
        cudnn.enabled = False
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        for undo in restore:
            undo()
        cudnn.enabled = saved_cudnn
        torch.backends.mha.set_fastpath_enabled(saved_fastpath)


def _matmul_exact():
    """Float32 matmuls in full precision; return the undo (see below)."""
    try:
        previous = torch.get_float32_matmul_precision()
    except RuntimeError:  # a mix of the two APIs: per backend
        return _set_precision(torch.backends.cuda.matmul)
    torch.set_float32_matmul_precision("highest")
    return lambda: torch.set_float32_matmul_precision(previous)


def _set_precision(backend):
    """Turn TF32 off for ``backend`` (cuda.matmul or cudnn); return the undo.

    torch >= 2.9 has a legacy (``allow_tf32``) and a new (``fp32_precision``)
    API and raises when a value set through one is read through the other:
    the setting is read, changed and restored through the API the caller's
    current state can be read with.
    """
    try:
        allowed = backend.allow_tf32
    except RuntimeError:  # the caller used the new API
        previous = backend.fp32_precision
        backend.fp32_precision = "ieee"

        def undo():
            backend.fp32_precision = previous
        return undo
    backend.allow_tf32 = False

    def undo():
        backend.allow_tf32 = allowed
    return undo


def _cuda_batch_size(device, bytes_per_row, share=CUDA_MEMORY_SHARE,
                     bounds=CUDA_BATCH_BOUNDS):
    """Rows per batch that fit in ``share`` of the free device memory.

    Free memory is what the driver reports plus what PyTorch's caching
    allocator holds but does not use (reserved - allocated): those blocks are
    free for our tensors although the driver counts them as taken.
    """
    free, _ = torch.cuda.mem_get_info(device)
    cached = (torch.cuda.memory_reserved(device)
              - torch.cuda.memory_allocated(device))
    return _batch_size_for(free + cached, bytes_per_row, share, bounds)


def _batch_size_for(free_bytes, bytes_per_row, share, bounds):
    """``share * free_bytes / bytes_per_row`` rounded down to a power of two."""
    rows = int(share * free_bytes / max(bytes_per_row, 1.0))
    low, high = bounds
    rows = min(max(rows, low), high)
    return 1 << (rows.bit_length() - 1)


def _same_indices(saved, batch):
    if isinstance(batch, torch.Tensor):
        return saved == batch._version
    return isinstance(saved, np.ndarray) and np.array_equal(saved, batch)
