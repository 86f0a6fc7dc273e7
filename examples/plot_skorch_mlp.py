"""
====================================
A neural network with skorch
====================================

:class:`~sklearn_fairif.FairIFClassifier` wraps a skorch
``NeuralNetBinaryClassifier`` as it wraps a logistic regression. For a
network, the influence functions use matrix-free Hessian-vector products and
conjugate gradients, and the refit carries the weights through skorch's
batches; the user's module is not changed.

This example needs the optional extra ``pip install 'sklearn-fairif[torch]'``
(it prints a message and stops without it) and runs on a CPU in well under a
minute.
"""

# %%
# Data
# ----
# The same biased synthetic data as in the quick start, as float32 arrays
# (what torch expects). The group is not a column of ``X``.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import make_biased_classification, train_val_test_split
from sklearn_fairif.metrics import accuracy_difference, average_odds_difference

try:
    import torch
    from skorch import NeuralNetBinaryClassifier
    from torch import nn
except ImportError:  # torch and skorch are an optional extra
    torch = None
    print("This example needs torch and skorch: "
          "pip install 'sklearn-fairif[torch]'. Skipping it.")

X, y, s = make_biased_classification(6000, bias="group_size", random_state=0)
X, y = X.astype(np.float32), y.astype(np.float32)
X_train, X_val, X_test, y_train, y_val, y_test, s_train, s_val, s_test = (
    train_val_test_split(X, y, s, random_state=0)
)

# %%
# The network
# -----------
# Any torch module with one output logit. It is tiny, so one CPU thread is
# faster than several. ``train_split=None`` trains on every row: the
# influence treats all rows passed to ``fit`` as training rows.
if torch is not None:
    torch.set_num_threads(1)
    torch.manual_seed(0)

    class MLP(nn.Module):
        def __init__(self, n_features=10, hidden=32):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(n_features, hidden), nn.ReLU(),
                nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, 1),
            )

        def forward(self, X):
            return self.layers(X).squeeze(-1)

    net = NeuralNetBinaryClassifier(
        MLP, module__n_features=X.shape[1], max_epochs=20, batch_size=128,
        optimizer=torch.optim.Adam, lr=3e-3, optimizer__weight_decay=1e-4,
        train_split=None, verbose=0,
    )

# %%
# ERM and FairIF
# --------------
# ``initial_estimator_`` is the network trained without weights, so it
# serves as the ERM baseline. Both trainings start from the same random
# initialisation.
#
# A network trained by Adam stops short of an exact minimum, and its Hessian
# keeps small negative eigenvalues. The default ``damping="auto"`` adds
# enough to the Hessian's diagonal for the conjugate-gradient solve to be
# well posed (``damping_`` is the value used); a float fixes it.
if torch is not None:
    fair = FairIFClassifier(net, random_state=0)
    fair.fit(X_train, y_train, X_val=X_val, y_val=y_val, s_val=s_val)
    print("damping used:", getattr(fair, "damping_", fair.damping))
    print("seconds per stage:",
          {k: round(v, 2) for k, v in fair.stage_times_.items()})

    results = {}
    for name, model in [("ERM", fair.initial_estimator_), ("FairIF", fair)]:
        pred = model.predict(X_test)
        results[name] = {
            "accuracy": float(np.mean(pred == y_test)),
            "AD": accuracy_difference(y_test, pred, sensitive_features=s_test),
            "AOD": average_odds_difference(y_test, pred, sensitive_features=s_test),
        }
        print(name, {k: round(v, 3) for k, v in results[name].items()})

# %%
# Training curves and weights
# ---------------------------
# skorch records each epoch's training loss; FairIF's refit minimises the
# *weighted* loss. On the right, the mean weight FairIF gave each group x
# label cell (the training groups are used only for this plot).
if torch is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(fair.initial_estimator_.history[:, "train_loss"], label="ERM")
    ax1.plot(fair.estimator_.history[:, "train_loss"],
             label="FairIF refit (weighted loss)")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.legend()
    cells = [(g, label) for g in (0, 1) for label in (0, 1)]
    ax2.bar([f"group {g}\ny={label}" for g, label in cells],
            [fair.sample_weight_[(s_train == g) & (y_train == label)].mean()
             for g, label in cells], color="tab:purple")
    ax2.axhline(1.0, color="black", lw=0.8, ls="--")
    ax2.set_ylabel("mean FairIF weight")
    fig.tight_layout()
    plt.show()
