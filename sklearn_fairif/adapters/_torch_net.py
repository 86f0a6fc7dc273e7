"""The skorch net as the adapter sees it: its head, its parameters, its data.

``_Head`` turns the module's output into binary margins and per-sample losses
as skorch's ``get_loss`` does; the parameter helpers choose what the influence
is taken over and read the optimizer's weight decay; the data helpers move
inputs (arrays, tensors, dicts of those) to the model's device.
"""

import copy
from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNetBinaryClassifier


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
        """Targets as the criterion expects them (tensors on any device too)."""
        y = y.detach() if isinstance(y, torch.Tensor) else torch.as_tensor(
            np.asarray(y))
        return y.to(dtype) if self.binary else y.long()


# ---------------------------------------------------------- parameters
def _select_params(module, influence_params, probe):
    """Names of the parameters the influence is taken over, in module order.

    ``probe()`` runs the module's forward pass on two rows (for
    ``"last_layer"``, which watches the execution order).
    """
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
            probe()
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
    of the free memory (PyTorch's unused cached blocks counted as free),
    saves the per-batch host-to-device copies. Data left on the host is
    pinned, so that those copies are asynchronous.
    """
    if device.type != "cuda":
        return X
    tensors = list(X.values()) if isinstance(X, Mapping) else [X]
    nbytes = sum(t.numel() * t.element_size() for t in tensors
                 if t.device.type == "cpu")
    free, _ = torch.cuda.mem_get_info(device)
    free += torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    target = device if nbytes <= free // 4 else None
    return _map_tensors(X, lambda t: _move_or_pin(t, target))


def _move_or_pin(t, device):
    if t.device.type != "cpu":
        return t
    if device is not None:
        return t.to(device)
    try:
        return t.pin_memory()
    except RuntimeError:  # pinned memory exhausted: pageable copies still work
        return t


def _map_tensors(X, fn):
    if isinstance(X, Mapping):
        return {k: fn(v) for k, v in X.items()}
    return fn(X)


def _length(X):
    return len(next(iter(X.values()))) if isinstance(X, Mapping) else len(X)


def _take(X, index, device):
    """Rows ``index`` (a slice, NumPy or tensor indices) of the inputs, on ``device``.

    Indices are built where the data lives, so nothing comes back from the
    GPU to index host memory.
    """
    if isinstance(X, Mapping):
        return {k: _take(v, index, device) for k, v in X.items()}
    if isinstance(index, np.ndarray):
        index = torch.as_tensor(index, device=X.device)
    elif isinstance(index, torch.Tensor) and index.device != X.device:
        index = index.to(X.device)
    return X[index].to(device, non_blocking=True)


def _on(X, device):
    """Whether every input tensor is on ``device``."""
    tensors = X.values() if isinstance(X, Mapping) else [X]
    return all(t.device == device for t in tensors)


def _as_tensor(a, dtype, device):
    """Return a float tensor on ``device`` from an array or any tensor."""
    if isinstance(a, torch.Tensor):
        return a.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(a, dtype=float), dtype=dtype, device=device)
