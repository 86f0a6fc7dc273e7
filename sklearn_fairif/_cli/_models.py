"""The models the command line fits, and the wrapper it saves them in.

A tabular pipeline (logistic regression or a small skorch MLP), and
:class:`LabelledClassifier`, which predicts the CSV's own labels.
"""

import numpy as np

from ..utils import make_tabular_pipeline
from ._common import CLIError


def _mlp(n_features, *, epochs, seed):
    """Return a small ReLU network as a skorch binary classifier."""
    try:
        import torch
        from skorch import NeuralNetBinaryClassifier
    except ImportError as exc:
        raise CLIError(
            f"--model mlp needs torch and skorch ({exc.name} is not installed): "
            "pip install 'sklearn-fairif[torch]'"
        ) from None
    torch.manual_seed(seed)
    # A module *instance*: every fit (ERM, each FairIF refit) starts from these
    # same initial weights, and the fitted net pickles without custom classes.
    module = torch.nn.Sequential(
        torch.nn.Linear(n_features, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 1),
    )
    return NeuralNetBinaryClassifier(
        module, max_epochs=epochs, batch_size=256, lr=1e-3,
        optimizer=torch.optim.Adam, optimizer__weight_decay=1e-4,
        train_split=None, verbose=0,
    )


def _make_estimator(problem, args):
    if args.model == "logreg":
        return make_tabular_pipeline(numeric=problem.numeric,
                                     categorical=problem.categorical)
    # The network's input width is the one-hot width: fit the preprocessing once
    # to know it (FairIF refits it, identically, inside the Pipeline).
    pre = make_tabular_pipeline(numeric=problem.numeric,
                                categorical=problem.categorical, dense=True)[:-1]
    n_features = pre.fit_transform(problem.X_train).shape[1]
    net = _mlp(n_features, epochs=args.epochs, seed=args.seed)
    return make_tabular_pipeline(net, numeric=problem.numeric,
                                 categorical=problem.categorical, dense=True)


class LabelledClassifier:
    """A fitted FairIF model that predicts the CSV's own class labels.

    The command line fits on labels encoded as 0 (negative) and 1 (the
    ``--positive-label``), so that FairIF's positive class is the user's,
    whatever its sort order; the saved model decodes its predictions back.

    Parameters
    ----------
    model : FairIFClassifier
        The fitted model (on 0/1 labels).
    classes : sequence of length 2
        The CSV's labels ``(negative, positive)``: ``classes_`` in the order of
        the columns of :meth:`predict_proba`.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``(negative, positive)``.
    Every other attribute (``alpha_``, ``sample_weight_``,
    ``feature_names_in_``, ...) is the wrapped model's.
    """

    def __init__(self, model, classes):
        self.model = model
        self.classes_ = np.asarray(classes, dtype=object) \
            if any(isinstance(c, str) for c in classes) else np.asarray(classes)

    def predict(self, X):
        """Predict the CSV's class labels; no group labels needed."""
        codes = (np.asarray(self.model.predict(X)).astype(float) > 0.5).astype(int)
        return self.classes_[codes]

    def predict_proba(self, X):
        """Probabilities of ``classes_`` (negative, positive), per row."""
        return self.model.predict_proba(X)

    def decision_function(self, X):
        """Score of the positive class (``classes_[1]``)."""
        return self.model.decision_function(X)

    def __getattr__(self, name):
        # Only called when normal lookup fails; never for "model" itself, which
        # would recurse while unpickling (before __dict__ is filled).
        if name == "model" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def __repr__(self):
        return f"LabelledClassifier({self.model!r}, classes={self.classes_.tolist()})"
