"""A container for the validation data that cross-validation never slices."""

from dataclasses import dataclass
from typing import Any

from sklearn.utils.validation import _num_samples


@dataclass(frozen=True, repr=False, eq=False)
class ValidationSet:
    """The group-annotated validation data, as one object.

    ``GridSearchCV`` and ``cross_validate`` slice every fit parameter whose
    length equals the training fold's; a separate ``X_val`` of that length
    would be cut to pieces silently. A ``ValidationSet`` has no length, so it
    is always passed on whole: use it whenever the validation set is fixed
    across folds.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_val, n_features)
        Validation features, in the training data's format.
    y : array-like of shape (n_val,), default=None
        Validation labels (needed by every objective but demographic parity).
    s : array-like of shape (n_val,)
        Validation group labels.

    Examples
    --------
    >>> from sklearn_fairif import FairIFClassifier, ValidationSet
    >>> from sklearn_fairif.datasets import make_biased_classification
    >>> X, y, s = make_biased_classification(2000, bias="group_size", random_state=0)
    >>> val = ValidationSet(X[1500:], y[1500:], s=s[1500:])
    >>> clf = FairIFClassifier().fit(X[:1500], y[:1500], validation_set=val)
    >>> clf.sample_weight_.shape
    (1500,)
    """

    X: Any
    y: Any = None
    s: Any = None

    def __repr__(self):
        return f"ValidationSet(n_samples={_num_samples(self.X)})"
