"""The models the command line fits: a tabular pipeline and a small MLP."""

import numpy as np

from ._common import CLIError
from ._progress import _EpochTicker


def tabular_model(estimator=None, *, numeric=None, categorical=None, dense=False):
    """One-hot categorical columns, impute and standardise numeric ones.

    Parameters
    ----------
    estimator : classifier, default=None
        The final step; ``LogisticRegression(max_iter=1000)`` when None.
    numeric, categorical : list of str, default=None
        Column names. When None, numeric columns (booleans excluded) are
        selected by dtype and every other column is categorical.
    dense : bool, default=False
        Produce a dense float32 array (for a torch network) rather than a
        sparse matrix.

    Returns
    -------
    pipeline : Pipeline
    """
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    if numeric is None:
        numeric = make_column_selector(dtype_include="number", dtype_exclude="bool")
    if categorical is None:
        categorical = make_column_selector(dtype_exclude="number")
    pre = ColumnTransformer(
        [
            # Missing categories become a category of their own.
            ("categorical", OneHotEncoder(handle_unknown="ignore",
                                          sparse_output=not dense), categorical),
            ("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                      StandardScaler()), numeric),
        ],
        sparse_threshold=0.0 if dense else 0.3,
    )
    steps = [pre]
    if dense:
        steps.append(FunctionTransformer(np.asarray, kw_args={"dtype": np.float32}))
    return make_pipeline(*steps, estimator or LogisticRegression(max_iter=1000))


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
        return tabular_model(numeric=problem.numeric, categorical=problem.categorical)
    # The network's input width is the one-hot width: fit the preprocessing once
    # to know it (FairIF refits it, identically, inside the Pipeline).
    pre = tabular_model(numeric=problem.numeric, categorical=problem.categorical,
                        dense=True)[:-1]
    n_features = pre.fit_transform(problem.X_train).shape[1]
    net = _mlp(n_features, epochs=args.epochs, seed=args.seed)
    return tabular_model(net, numeric=problem.numeric,
                         categorical=problem.categorical, dense=True)
