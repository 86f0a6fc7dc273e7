"""The models the command line fits: a tabular pipeline and a small MLP."""


from ..utils import make_tabular_pipeline
from ._common import CLIError
from ._progress import _EpochTicker


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
        callbacks=[("fairif_progress", _EpochTicker())],
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
