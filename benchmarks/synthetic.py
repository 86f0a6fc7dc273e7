"""Which bias types does FairIF correct, with a linear model and with an MLP?

The three bias types of ``make_biased_classification`` (group size,
distribution shift, class size) × {logistic regression, MLP (skorch)}, every
method of baselines.py (ExpGrad only with logistic regression).

Writes ``comparison_synthetic.md`` (rewritten after each section, so an
interrupted run keeps the finished ones).

Usage: python benchmarks/synthetic.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import (
    ALPHAS,
    TRAIN_GROUPS,
    main,
    mean_se,
    mlp_net,
    scores,
    seeds_label,
    table,
    write,
)
from baselines import ERM, JTT, FairIF, KamiranCalders, LiLiu, all_methods
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sklearn_fairif.datasets import make_biased_classification, train_val_test_split

BIASES = ("group_size", "distribution_shift", "class_size")


@dataclass(frozen=True)
class Config:
    n: int = 6000
    seeds: int = 3
    alphas: tuple = ALPHAS
    # MLP fits are ~50x a logistic one on this shared 2-core machine.
    mlp_epochs: int = 10
    mlp_seeds: int = 3
    mlp_biases: tuple = BIASES


PRESETS = {
    "quick": Config(n=3000, seeds=1, alphas=(0.03, 0.3), mlp_epochs=5,
                    mlp_seeds=1, mlp_biases=("group_size",)),
    "full": Config(),
}


def linear():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def mlp(seed, epochs):
    """StandardScaler + float32 + the small ReLU network (skorch)."""
    return make_pipeline(StandardScaler(), FunctionTransformer(
        np.asarray, kw_args={"dtype": np.float32}),
        mlp_net(10, epochs=epochs, seed=seed))


def mlp_methods(seed, epochs):
    def make():
        return mlp(seed, epochs)

    few = [{"max_epochs": max(1, epochs // 10)}, {"max_epochs": max(2, epochs // 4)}]
    return [
        ERM(make()),
        FairIF(make(), damping="auto", random_state=seed),
        FairIF(make(), alpha=[0.01, 0.1, 1.0], name="FairIF (alpha on val)",
               damping="auto", random_state=seed),
        LiLiu(make(), lams=(0.5, 1.0)),
        JTT(make(), first_params=few, lambdas=(2, 5, 10)),
        KamiranCalders(make()),
    ]


def run_section(config, bias, kind, n_seeds):
    """Rows of one (bias, model) section."""
    import torch

    res = {}
    for seed in range(n_seeds):
        X, y, s = make_biased_classification(config.n, bias=bias, random_state=seed)
        X_tr, X_val, X_te, y_tr, y_val, y_te, s_tr, s_val, s_te = \
            train_val_test_split(X, y, s, random_state=seed)
        if kind == "mlp":
            y_tr, y_val = y_tr.astype(np.float32), y_val.astype(np.float32)
            methods = mlp_methods(seed, config.mlp_epochs)
        else:
            methods = all_methods(linear, seed=seed, alphas=config.alphas)
        for m in methods:
            torch.manual_seed(seed)
            m.fit(X_tr, y_tr, s_tr, X_val, y_val, s_val)
            sc = scores(y_te, np.asarray(m.predict(X_te)).astype(int), s_te)
            for k in ("acc", "aod"):
                res.setdefault(m.name, {}).setdefault(k, []).append(sc[k])
    return [{"method": m, "train groups": "yes" if m in TRAIN_GROUPS else "no",
             "ACC": mean_se(sc["acc"]), "AOD": mean_se(sc["aod"])}
            for m, sc in res.items()]


def run(config, out, command):
    body = (
        f"`make_biased_classification({config.n}, bias=...)`, 60/20/20 "
        "split stratified on label x group; seeds 0..k−1 with k as in each "
        "heading. Logistic regression (StandardScaler + LR) with every method; "
        f"the MLP (skorch, 64-32 ReLU, Adam, {config.mlp_epochs} epochs, the "
        "same initial weights for every fit) with every method but ExpGrad "
        "(its reduction calls `fit(X, y, sample_weight=w)`, which a plain "
        "skorch net does not support). MLP: FairIF alpha list (0.01, 0.1, 1), "
        "Li & Liu targets (0.5, 1), JTT's first model stopped after 1/10 or "
        "1/4 of the epochs, lambda_up in (2, 5, 10). Test metrics: mean ± "
        "standard error (fit times: `compare_tabular.py` and `scale.py`).\n"
    )
    # All logistic sections first; the file is rewritten after each section.
    for model_name, kind in (("logistic regression", "linear"), ("MLP", "mlp")):
        for bias in BIASES:
            if kind == "mlp" and bias not in config.mlp_biases:
                continue
            n_seeds = config.mlp_seeds if kind == "mlp" else config.seeds
            rows = run_section(config, bias, kind, n_seeds)
            body += (f"\n## bias = {bias}, {model_name} ({seeds_label(n_seeds)})"
                     "\n\n" + table(rows))
            print(bias, model_name, flush=True)
            write(out, "comparison_synthetic", "Synthetic bias types × {logistic "
                  "regression, MLP}", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
