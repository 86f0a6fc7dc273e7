"""Does ``n_jobs`` speed up the influence pass after the iHVP solves?

On Adult (split 0, ``make_tabular_pipeline()``), the pass over the training
rows that turns the k solutions ``u_c`` into the n x k influence runs as one
block (serial) or as 2 joblib blocks on threads or on loky processes. Timed:
the pass alone (``influence_dot``) and the whole influence computation
(``compute_influence``: constraint gradients, solve, pass), for the logistic
model (forced into blocks: Adult is far below ``LinearAdapter``'s
``min_split_products``; and ``FairIFClassifier``'s own ``"influence"`` stage,
forced and by default, with one alpha so that only the influence pass is
parallel) and for the 128-64 MLP of the network benchmarks (CPU, one torch
thread per process). Each time is the median of
``repeat`` runs, round-robin over the settings, as a ratio to the serial time
of the same run; loky's workers are started before timing.

Writes ``influence_jobs.md``.

Usage: python benchmarks/influence_jobs.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass
from functools import partial

import joblib
import numpy as np
from _common import load_split, main, mlp_128_64, table, wall_time, write
from sklearn.base import clone

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.adapters import LinearAdapter, make_adapter
from sklearn_fairif.influence import (
    FairnessConstraints,
    compute_influence,
    constraint_gradients,
    influence_dot,
    resolve_solver,
)
from sklearn_fairif.utils import make_tabular_pipeline


@dataclass(frozen=True)
class Config:
    max_rows: int | None = None
    repeat: int = 5
    epochs: int = 2


PRESETS = {
    "quick": Config(max_rows=3000, repeat=1, epochs=1),
    "full": Config(),
}

# (label, joblib backend, n_jobs); the first is the baseline.
SETTINGS = [("serial", None, None), ("2 threads", "threading", 2),
            ("2 loky processes", "loky", 2)]


def _seconds(measure, backend, n_jobs):
    """``measure(n_jobs)`` (which returns seconds) under ``backend``."""
    if backend is None:
        return measure(None)
    with joblib.parallel_config(backend=backend):
        return measure(n_jobs)


def _rows(config, measures):
    """One row per measure: serial seconds, each setting's ratio to them.

    Round-robin over measures and settings, ``config.repeat`` times.
    """
    times = {}
    for _ in range(config.repeat):
        for name, measure in measures.items():
            for label, backend, n_jobs in SETTINGS:
                times.setdefault((name, label), []).append(
                    _seconds(measure, backend, n_jobs))
    rows = []
    for name in measures:
        base = float(np.median(times[(name, SETTINGS[0][0])]))
        row = {"timed": name, "serial (s)": f"{base:.3f}"}
        for label, _, _ in SETTINGS[1:]:
            ratio = float(np.median(times[(name, label)])) / base
            row[f"{label} / serial"] = f"{ratio:.2f}"
        rows.append(row)
        print(row, flush=True)
    return rows


def _problem(config, dense):
    """Adult's raw split, its transformed rows and the constraints."""
    X, X_val, _, y, y_val, _, _, s_val, _ = load_split("adult", 0,
                                                       config.max_rows)
    pre = make_tabular_pipeline(dense=dense)[:-1].fit(X, y)
    constraints = FairnessConstraints("equalized_odds", y_val, s_val)
    raw = (X, y, {"X_val": X_val, "y_val": y_val, "s_val": s_val})
    return raw, pre.transform(X), pre.transform(X_val), constraints


def _influence_measures(adapter, constraints, Xt_val):
    """Time the pass alone and the whole computation at a fitted adapter."""
    grad = constraint_gradients(adapter, constraints, Xt_val)[1]
    damping = compute_influence(adapter, constraints, Xt_val).damping
    U = resolve_solver("auto", adapter).solve(adapter, grad, damping)
    return {
        "the pass (influence_dot)": lambda n_jobs: wall_time(
            lambda: influence_dot(adapter, U, n_jobs)),
        "compute_influence": lambda n_jobs: wall_time(
            lambda: compute_influence(adapter, constraints, Xt_val,
                                      damping=damping, n_jobs=n_jobs)),
    }


def linear(config):
    (X, y, kwargs), Xt, Xt_val, constraints = _problem(config, dense=False)
    pipe = make_tabular_pipeline()
    adapter = make_adapter(clone(pipe[-1]).fit(Xt, y), Xt, y)
    # Split although the pass is far below the adapter's threshold: this is
    # what the threshold saves.
    adapter.min_split_products = 0
    measures = _influence_measures(adapter, constraints, Xt_val)

    def stage(n_jobs, split=False):  # one alpha: only the pass is parallel
        default = LinearAdapter.min_split_products
        LinearAdapter.min_split_products = 0 if split else default
        try:
            clf = FairIFClassifier(pipe, alpha=0.3, n_jobs=n_jobs).fit(
                X, y, **kwargs)
        finally:
            LinearAdapter.min_split_products = default
        return clf.stage_times_["influence"]

    measures["FairIF's influence stage, split"] = partial(stage, split=True)
    measures["FairIF's influence stage, default (not split)"] = stage
    return Xt.shape, adapter.n_params, _rows(config, measures)


def network(config):
    import torch

    torch.set_num_threads(1)
    (_, y, _), Xt, Xt_val, constraints = _problem(config, dense=True)
    Xt, Xt_val, y = (Xt.astype(np.float32), Xt_val.astype(np.float32),
                     y.astype(np.float32))
    adapter = make_adapter(mlp_128_64(Xt.shape[1], config.epochs).fit(Xt, y),
                           Xt, y)
    measures = _influence_measures(adapter, constraints, Xt_val)
    return adapter.batch_size, adapter.n_params, _rows(config, measures)


def _load_torch():
    """The loky workers' first task: import torch.

    loky measures a worker's memory after its first task and replaces a
    worker that later grows by 300 MB, as importing torch does: a worker
    started without torch would be replaced, and torch imported again, in
    the middle of the timings.
    """
    from sklearn_fairif.adapters import SkorchAdapter

    return SkorchAdapter.__name__


def run(config, out, command):
    with joblib.parallel_config(backend="loky"):  # workers up before timing
        joblib.Parallel(n_jobs=2)(joblib.delayed(_load_torch)() for _ in range(2))
    shape, P, lin_rows = linear(config)
    batch, P_net, net_rows = network(config)
    body = (
        f"Adult split 0: {shape[0]} training rows, {shape[1]} features after "
        "`make_tabular_pipeline()` (one-hot: sparse CSR for the logistic model, "
        "dense float32 for the MLP); equalized odds (k = 2 constraints). "
        f"Median of {config.repeat} runs, round-robin, BLAS and torch on one "
        f"thread per process, on a machine with {os.cpu_count()} cores shared "
        "with other jobs. Ratios below 1 are speed-ups.\n"
        f"\n## Logistic regression (P = {P})\n\n" + table(lin_rows)
        + f"\n## 128-64 MLP (P = {P_net}, batches of {batch} rows, "
        f"{config.epochs} epochs of Adam)\n\n" + table(net_rows)
    )
    write(out, "influence_jobs", "n_jobs and the influence pass", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
