"""external_stacklevel: the package's warnings name the user's line."""

import inspect
import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import sklearn_fairif
from sklearn_fairif import FairIFClassifier
from sklearn_fairif.datasets import make_biased_classification
from sklearn_fairif.utils._validation import check_groups
from sklearn_fairif.utils._warnings import external_stacklevel


def _fit_tiny_validation(clf):
    # Validation cells of a few rows: the data warnings (raised in the input
    # checks) and alpha="auto"'s fold warning (raised in the fold plan).
    X, y, s = make_biased_classification(600, bias="distribution_shift",
                                         random_state=0)
    return clf.fit(X[:560], y[:560], X_val=X[560:], y_val=y[560:], s_val=s[560:])


def test_a_warning_deep_in_fit_names_the_callers_line():
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _fit_tiny_validation(FairIFClassifier(random_state=0))
    messages = [str(w.message) for w in record]
    assert any("folds are used instead of 5" in m for m in messages)
    assert any("fewer than 20" in m for m in messages)
    assert {w.filename for w in record} == {__file__}


def test_a_direct_call_names_its_own_line():
    with pytest.warns(UserWarning) as record:
        check_groups(np.arange(30) % 25, 30)
    assert record[0].filename == __file__


def test_under_a_search_the_first_line_outside_the_package_is_named():
    X, y, s = make_biased_classification(600, bias="distribution_shift",
                                         random_state=0)
    search = GridSearchCV(FairIFClassifier(random_state=0), {"tol": [0.01]}, cv=2)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search.fit(X[:560], y[:560], X_val=X[560:], y_val=y[560:], s_val=s[560:])
    package = os.path.dirname(os.path.abspath(sklearn_fairif.__file__))
    assert record
    assert not [w.filename for w in record if w.filename.startswith(package)]


def test_the_level_counts_from_the_warning_function():
    def warn():
        line = inspect.currentframe().f_lineno + 1
        warnings.warn("here", UserWarning, stacklevel=external_stacklevel())
        return line

    with pytest.warns(UserWarning) as record:
        line = warn()
    # Outside the package already: the line of the warn call itself.
    assert (record[0].filename, record[0].lineno) == (__file__, line)


def test_a_warning_from_a_skorch_callback_names_the_callers_line():
    # IFFair's updates run inside skorch's epoch callback: its frames are
    # skipped too.
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    from sklearn_fairif import IFFairClassifier
    from sklearn_fairif.influence import CGSolver

    X, y, s = make_biased_classification(400, bias="group_size", random_state=0)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    net = skorch.NeuralNetBinaryClassifier(
        torch.nn.Sequential(torch.nn.Linear(X.shape[1], 4), torch.nn.ReLU(),
                            torch.nn.Linear(4, 1)),
        max_epochs=2, train_split=None, verbose=0)
    clf = IFFairClassifier(net, solver=CGSolver(max_iter=1, tol=1e-14),
                           update_every=1, n_updates=1)
    with pytest.warns(ConvergenceWarning) as record:
        clf.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:], s_val=s[300:])
    assert {w.filename for w in record
            if issubclass(w.category, ConvergenceWarning)} == {__file__}
