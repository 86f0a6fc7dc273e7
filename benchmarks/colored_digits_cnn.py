"""A small CNN through FairIFClassifier on colour-biased digits (CI-MNIST style).

The images are scikit-learn's bundled 8x8 ``load_digits`` drawn in white on a
red or a green background. The task is "digit >= 5"; the background colour is
the sensitive attribute. In the training and validation data the colour is a
shortcut (red mostly goes with the positive class); in the test data it is
independent of the label, so a network that learned the colour has unequal
true- and false-positive rates across colours (a large AOD).

The CNN takes flattened images (FairIFClassifier, like most scikit-learn
meta-estimators, expects 2-D ``X``) and unflattens them in its first layer.

Usage: python benchmarks/colored_digits_cnn.py
"""

import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetBinaryClassifier
from torch import nn

from sklearn_fairif import FairIFClassifier
from sklearn_fairif.metrics import average_odds_difference

COLOURS = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2]], dtype=np.float32)  # red, green


def make_colored_digits(n_copies=3, shortcut=0.9, seed=0):
    """Coloured digits: ``X`` (n, 3*8*8) float32, ``y`` (digit >= 5), ``s``.

    Each digit is drawn ``n_copies`` times with pixel noise. ``shortcut`` is
    the probability that a positive is red and a negative is green (0.5: the
    colour says nothing about the label).
    """
    rng = np.random.default_rng(seed)
    digits = load_digits()
    ink = np.repeat(digits.images / 16.0, n_copies, axis=0).astype(np.float32)
    y = np.repeat(digits.target >= 5, n_copies).astype(int)
    agree = rng.random(len(y)) < shortcut
    s = np.where(agree, 1 - y, y)  # s = 0 (red) goes with y = 1
    background = COLOURS[s][:, :, None, None]
    images = background * (1 - ink[:, None]) + ink[:, None]
    images += rng.normal(scale=0.1, size=images.shape).astype(np.float32)
    return images.reshape(len(y), -1), y, s


class SmallCNN(nn.Module):
    """Two 3x3 convolutions, max-pooling, one logit."""

    def __init__(self, channels=8):
        super().__init__()
        self.features = nn.Sequential(
            nn.Unflatten(1, (3, 8, 8)),
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * channels * 4, 1)

    def forward(self, X):
        return self.head(self.features(X))


def split(seed=0):
    """Train / validation with the colour shortcut, test without it."""
    X, y, s = make_colored_digits(shortcut=0.9, seed=seed)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    tr, va = order[:3500], order[3500:]
    X_te, y_te, s_te = make_colored_digits(n_copies=1, shortcut=0.5, seed=seed + 1)
    return (X[tr], y[tr], X[va], y[va], s[va]), (X_te, y_te, s_te)


def cnn_net(epochs=15, device="cpu", batch_size=128):
    """The skorch classifier around :class:`SmallCNN`."""
    return NeuralNetBinaryClassifier(
        SmallCNN, max_epochs=epochs, batch_size=batch_size, train_split=None,
        verbose=0, device=device,
        optimizer=torch.optim.Adam, optimizer__lr=3e-3,
        optimizer__weight_decay=1e-4,
        # Influence passes stream in the net's inference batches: larger ones
        # than the training batches are much faster.
        iterator_valid__batch_size=1024,
    )


def run(solver="cg", damping=1.0, influence_params="all", seed=0, device="cpu"):
    """Fit FairIF with the CNN; return a dict of metrics and timings."""
    (X, y, X_val, y_val, s_val), (X_te, y_te, s_te) = split(seed)
    torch.manual_seed(seed)
    net = cnn_net(device=device)
    clf = FairIFClassifier(net, solver=solver, damping=damping,
                           influence_params=influence_params, random_state=seed)
    start = time.perf_counter()
    clf.fit(X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    total = time.perf_counter() - start
    before = clf.initial_estimator_.predict(X_te)
    after = clf.predict(X_te)
    epoch = float(np.median(clf.initial_estimator_.history[:, "dur"]))
    return {
        "solver": solver,
        "influence_params": influence_params,
        "test AOD before": average_odds_difference(y_te, before,
                                                   sensitive_features=s_te),
        "test AOD after": average_odds_difference(y_te, after,
                                                  sensitive_features=s_te),
        "test accuracy before": float(np.mean(before == y_te)),
        "test accuracy after": float(np.mean(after == y_te)),
        "epoch (s)": epoch,
        "influence (s)": clf.stage_times_["influence"],
        "total fit (s)": total,
        "n_train": len(y),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    # Adam leaves the CNN's full Hessian indefinite (lowest eigenvalue about
    # -0.75 against a largest of 60), so CG over all parameters needs a damping
    # above that; the last layer's Hessian is convex and needs almost none.
    for result in (run(damping=1.0),
                   run(solver="exact", influence_params="last_layer",
                       damping=0.01)):
        print({k: round(v, 3) if isinstance(v, float) else v
               for k, v in result.items()})
