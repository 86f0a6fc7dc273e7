"""A ready-made preprocessing pipeline for mixed-type tables (CLI, benchmarks)."""

import numpy as np


def make_tabular_pipeline(estimator=None, *, numeric=None, categorical=None,
                          dense=False):
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
        ``ColumnTransformer`` (one-hot + median imputation and scaling), then
        ``estimator``. ``FairIFClassifier`` fits the preprocessing once and
        reweights only the final step.

    Examples
    --------
    >>> from sklearn_fairif.datasets import load_german
    >>> from sklearn_fairif.utils import make_tabular_pipeline
    >>> data = load_german()
    >>> pipe = make_tabular_pipeline().fit(data.data, data.target)
    >>> pipe.predict(data.data.iloc[:3]).shape
    (3,)
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
