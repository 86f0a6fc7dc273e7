"""Does the first-order influence predict the change of the gaps after a refit?

Predicted vs actual change of the validation gaps after refitting with a weight
vector: logistic regression on Adult, an MLP (skorch) on COMPAS.

Writes ``comparison_fidelity.md`` and ``fidelity.png``.

Usage: python benchmarks/fidelity.py --quick|--full [--out DIR]
"""

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

from dataclasses import dataclass

import numpy as np
from _common import load_split, main, mlp_net, pyplot, table, write
from baselines import Prepared
from scipy.stats import pearsonr, spearmanr

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.influence import FairnessConstraints, solve_weights
from sklearn_fairif.utils import make_tabular_pipeline


@dataclass(frozen=True)
class Config:
    cases: tuple = (("logistic regression", "adult"), ("MLP (skorch)", "compas"))
    max_rows: int | None = None
    mlp_epochs: int = 20
    alphas: tuple = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
    # Removal of the most positive / most negative influential rows.
    removals: tuple = (0.005, 0.01, 0.02)


PRESETS = {
    "quick": Config(max_rows=3000, mlp_epochs=5, alphas=(0.01, 0.3, 3.0),
                    removals=(0.01,)),
    "full": Config(),
}


def estimator(model_name, X_tr, epochs):
    if not model_name.startswith("MLP"):
        return make_tabular_pipeline()
    width = make_tabular_pipeline(dense=True)[:-1].fit_transform(X_tr).shape[1]
    return make_tabular_pipeline(mlp_net(width, epochs=epochs, seed=0), dense=True)


def refit_gaps(prepared, constraints, Xt_val, w):
    """Soft validation gaps of a refit with weights ``w`` (torch seed fixed)."""
    import torch

    torch.manual_seed(0)
    fitted = prepared.fit(w)
    return constraints.values(prepared.adapter(fitted, w).decision_function(Xt_val))


def weight_vectors(config, influence, gaps):
    """FairIF's weights along alpha, then removals of the most influential rows."""
    n = len(influence)
    out = [solve_weights(influence, gaps, a, current_weights=np.ones(n))[0]
           for a in config.alphas]
    for c in range(influence.shape[1]):
        order = np.argsort(influence[:, c])
        for frac in config.removals:
            k = max(1, int(frac * n))
            for idx in (order[:k], order[-k:]):
                w = np.ones(n)
                w[idx] = 0.0
                out.append(w)
    return out


def run_case(config, model_name, data):
    import torch

    X_tr, X_val, _, y_tr, y_val, _, _, s_val, _ = load_split(data, 0, config.max_rows)
    est = estimator(model_name, X_tr, config.mlp_epochs)
    if model_name.startswith("MLP"):  # skorch's BCE loss needs float targets
        y_tr = np.asarray(y_tr, dtype=np.float32)
        y_val = np.asarray(y_val, dtype=np.float32)
    torch.manual_seed(0)
    clf = FairIFClassifier(est, damping="auto").fit(
        X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
    prepared = Prepared(est, X_tr, y_tr)
    Xt_val = prepared.transform(X_val)
    y_val01 = (np.asarray(y_val) == clf.classes_[1]).astype(int)
    constraints = FairnessConstraints("equalized_odds", y_val01, s_val)
    n = len(y_tr)
    before = refit_gaps(prepared, constraints, Xt_val, np.ones(n))
    pred, act = [], []
    for w in weight_vectors(config, clf.influence_, clf.validation_gaps_["before"]):
        pred.append((w - 1) @ clf.influence_)
        act.append(refit_gaps(prepared, constraints, Xt_val, w) - before)
    return np.concatenate(pred), np.concatenate(act), clf.damping_


def run(config, out, command):
    body = (
        "Each point: one weight vector w, one constraint (TPR gap or TNR gap "
        "on the validation split). x: FairIF's first-order prediction "
        "`sum_i (w_i - 1) influence_[i, c]`; y: the actual change of the soft "
        "gap after refitting with w (the network from the same initial weights "
        "and torch seed). Weight vectors: FairIF's weights at alpha in "
        f"{list(config.alphas)}, and removal of the "
        f"{', '.join(f'{r:.1%}' for r in config.removals)} of training rows "
        "with the most positive / most negative influence on each constraint. "
        f"MLP: {config.mlp_epochs} epochs.\n\n"
    )
    plt = pyplot()
    fig, axes = plt.subplots(1, len(config.cases),
                             figsize=(5.2 * len(config.cases), 4.4))
    rows = []
    for ax, (model_name, data) in zip(np.atleast_1d(axes), config.cases,
                                      strict=True):
        pred, act, damping = run_case(config, model_name, data)
        r, rho = pearsonr(pred, act)[0], spearmanr(pred, act)[0]
        slope = float(np.polyfit(pred, act, 1)[0])
        rows.append({"model": model_name, "data": data, "points": len(pred),
                     "Pearson r": f"{r:.3f}", "Spearman ρ": f"{rho:.3f}",
                     "slope actual/predicted": f"{slope:.2f}",
                     "damping used": f"{damping:g}"})
        lim = np.max(np.abs(np.r_[pred, act])) * 1.05
        ax.plot([-lim, lim], [-lim, lim], "k--", lw=0.8, label="y = x")
        ax.scatter(pred, act, s=14, alpha=0.7, color="tab:red")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("predicted change of validation gap (influence)")
        ax.set_ylabel("actual change after refit")
        ax.set_title(f"{model_name} on {data}: r={r:.2f}, ρ={rho:.2f}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        print(rows[-1], flush=True)
    fig.tight_layout()
    fig.savefig(out / "fidelity.png", dpi=120)
    plt.close(fig)
    body += table(rows) + "\n![fidelity](fidelity.png)\n"
    write(out, "comparison_fidelity", "Influence fidelity: predicted vs actual "
          "change of the validation gaps", command, body)


if __name__ == "__main__":
    main(__doc__, PRESETS, run)
