"""The input contract of both estimators: each bad input, one clear message.

Every case asserts the exception type and that the message names the
argument, and that it is raised before stage 1 (the wrapped estimator's fit
is never called).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif import FairIFClassifier, IFFairClassifier
from sklearn_fairif.datasets import make_biased_classification, train_val_test_split


class _CountingLR(LogisticRegression):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


def _args(data):
    X, y, X_val, y_val, s_val = data[:5]
    return {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "s_val": s_val}


def _no_positives_in_group_1(a):
    return {**a, "y_val": np.where(a["s_val"] == 1, 0, a["y_val"])}


def _named_columns(a):
    columns = [f"f{j}" for j in range(a["X"].shape[1])]
    return {**a, "X": pd.DataFrame(a["X"], columns=columns)}


def _nan_at_0(a):
    a = a.astype(float).copy()
    a[0, 0] = np.nan
    return a


BAD_DATA = [
    ("X_val", lambda a: {**a, "X_val": a["X_val"][:, :3]}, ValueError),
    ("X_val", lambda a: {**a, "X_val": _nan_at_0(a["X_val"])}, ValueError),
    ("X_val", lambda a: {**a, "X_val": a["X_val"][:0], "y_val": a["y_val"][:0],
                         "s_val": a["s_val"][:0]}, ValueError),
    ("X", lambda a: {**a, "X": _nan_at_0(a["X"])}, ValueError),
    ("X", lambda a: {**a, "X": a["X"][:0], "y": a["y"][:0]}, ValueError),
    ("s_val", lambda a: {**a, "s_val": a["s_val"][:-1]}, ValueError),
    ("s_val", lambda a: {**a, "s_val": np.array([1, "a"] * (len(a["s_val"]) // 2),
                                                 dtype=object)}, TypeError),
    ("y_val", lambda a: {**a, "y_val": np.array([1, "a"] * (len(a["y_val"]) // 2),
                                                dtype=object)}, TypeError),
    ("y_val", lambda a: {**a, "y_val": a["y_val"][:-1]}, ValueError),
    ("y", lambda a: {**a, "y": np.ones(len(a["y"]))}, ValueError),
    ("sample_weight", lambda a: {**a, "sample_weight": -np.ones(len(a["y"]))},
     ValueError),
    ("sample_weight", lambda a: {**a, "sample_weight": np.zeros(len(a["y"]))},
     ValueError),
    ("sample_weight", lambda a: {**a, "sample_weight": np.full(len(a["y"]), 1e300)},
     ValueError),
    ("fit parameters", lambda a: {**a, "foo": 1}, TypeError),
    ("X_val", lambda a: {**a, "X_val": a["X_val"][:, 0]}, ValueError),  # 1-D
    ("X_val", _named_columns, ValueError),  # a DataFrame X, an array X_val
    ("s_val", lambda a: {**a, "s_val": 1}, ValueError),
    ("s_val has rows of different lengths", lambda a: {
        **a, "s_val": [[v] if i % 2 else [v, 0] for i, v in enumerate(a["s_val"])]},
     ValueError),
    ("y_val", lambda a: {**a, "y_val": 1}, ValueError),
    # An undefined rate (no positive of group 1) is known before any fit.
    ("Group 1 has no positive .* \\(s_val, y_val\\)", _no_positives_in_group_1,
     ValueError),
]


@pytest.mark.parametrize("cls", [FairIFClassifier, IFFairClassifier])
@pytest.mark.parametrize("name, make, error", BAD_DATA,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_DATA)])
def test_bad_data_named_before_stage_one(biased_split, cls, name, make, error):
    _CountingLR.fits = 0
    args = make(_args(biased_split))
    with pytest.raises(error, match=name):
        cls(_CountingLR()).fit(**args)
    assert _CountingLR.fits == 0


@pytest.mark.parametrize("cls", [FairIFClassifier, IFFairClassifier])
def test_pipeline_bad_fit_params_and_columns_named(biased_split, cls):
    args = _args(biased_split)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    with pytest.raises(TypeError, match="foo"):
        cls(pipe).fit(**args, foo=1)
    with pytest.raises(TypeError, match="sample_weight"):
        cls(pipe).fit(**args, logisticregression__sample_weight=np.ones(2000))
    with pytest.raises(ValueError, match="X_val has 3 features"):
        cls(pipe).fit(**{**args, "X_val": args["X_val"][:, :3]})
    # The scaler's own check would name it "X".
    X_val = args["X_val"].copy()
    X_val[3, 2] = np.inf
    with pytest.raises(ValueError, match="X_val could not be transformed.*infinity"):
        cls(pipe).fit(**{**args, "X_val": X_val})


def test_a_list_x_val_beside_an_array_x(biased_split):
    args = _args(biased_split)
    as_array = FairIFClassifier(random_state=0).fit(**args)
    as_list = FairIFClassifier(random_state=0).fit(
        **{**args, "X_val": args["X_val"].tolist()})
    assert as_list.alpha_ == as_array.alpha_
    np.testing.assert_allclose(as_list.sample_weight_, as_array.sample_weight_)


@pytest.mark.parametrize("alpha, error", [
    ([-1], ValueError), ([0], ValueError), ([0.1, -1], ValueError),
    ([np.nan], ValueError), ([np.inf], ValueError), ([], ValueError),
    ([[0.1, 1]], TypeError), (["a"], TypeError), ([True], TypeError),
    ([0.1, 1.0, 0.1], ValueError),  # each refit would be done twice
])
def test_alpha_checked_element_wise(biased_split, alpha, error):
    _CountingLR.fits = 0
    with pytest.raises(error, match="alpha"):
        FairIFClassifier(_CountingLR(), alpha=alpha).fit(**_args(biased_split))
    assert _CountingLR.fits == 0


@pytest.mark.parametrize("params, name", [({"n_jobs": 0}, "n_jobs"),
                                          ({"tol": 1.5}, "tol"),
                                          ({"tol": -0.01}, "tol")])
def test_bad_parameters_rejected_before_stage_one(biased_split, params, name):
    _CountingLR.fits = 0
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        FairIFClassifier(_CountingLR(), **params).fit(**_args(biased_split))
    assert _CountingLR.fits == 0


@pytest.mark.parametrize("cls, name", [
    (FairIFClassifier, "tol"), (FairIFClassifier, "n_rounds"),
    (FairIFClassifier, "alpha"), (FairIFClassifier, "temperature"),
    (IFFairClassifier, "step_size"), (IFFairClassifier, "n_updates"),
])
def test_a_bool_for_a_number_rejected_before_stage_one(biased_split, cls, name):
    # scikit-learn's Interval takes True for 1 (tol=True: any accuracy loss).
    _CountingLR.fits = 0
    with pytest.raises(ValueError, match=f"'{name}' parameter .* not a bool"):
        cls(_CountingLR(), **{name: True}).fit(**_args(biased_split))
    assert _CountingLR.fits == 0


@pytest.mark.parametrize("alpha", ["auto", [0.1, 1.0]])
def test_tol_without_y_val_warns_that_it_is_ignored(biased_split, alpha):
    args = {**_args(biased_split), "y_val": None}
    with pytest.warns(UserWarning, match="Without y_val .* tol=0.01 is ignored"):
        FairIFClassifier(objective="demographic_parity", alpha=alpha,
                         random_state=0).fit(**args)
    with warnings.catch_warnings():  # one alpha: nothing to choose
        warnings.simplefilter("error")
        FairIFClassifier(objective="demographic_parity", alpha=0.3).fit(**args)


def test_auto_warns_when_no_alpha_keeps_the_accuracy():
    # 60 validation rows: on this draw every candidate's predicted held-out
    # accuracy falls by more than tol, so the least reweighting is used.
    X, y, s = make_biased_classification(3000, bias="group_size", random_state=0)
    X, X_val, _, y, y_val, _, _, s_val, _ = train_val_test_split(
        X, y, s, random_state=0)
    rows = np.random.default_rng(1).choice(len(y_val), 60, replace=False)
    with pytest.warns(UserWarning, match="every candidate's predicted held-out"):
        clf = FairIFClassifier(random_state=1).fit(
            X, y, X_val=X_val[rows], y_val=y_val[rows], s_val=s_val[rows])
    results = clf.cv_results_
    assert not results["admissible"].any()
    assert np.nanmax(results["heldout_utility_change"]) < 0.0
    assert clf.alpha_ == results["alpha"].max()


def test_saturated_temperature_warns_that_nothing_happens(biased_split):
    with pytest.warns(UserWarning, match="temperature=1e-06"):
        clf = FairIFClassifier(temperature=1e-6).fit(**_args(biased_split))
    np.testing.assert_array_equal(clf.sample_weight_, 1.0)


def test_already_fair_validation_set_named_in_the_warning(biased_split):
    # Both groups hold the same rows: every gap is exactly zero.
    args = _args(biased_split)
    half = slice(0, len(args["y_val"]) // 2)
    X_half, y_half = args["X_val"][half], args["y_val"][half]
    args.update(X_val=np.vstack([X_half, X_half]), y_val=np.r_[y_half, y_half],
                s_val=np.repeat([0, 1], len(y_half)))
    with pytest.warns(UserWarning, match="gaps are already zero"):
        clf = FairIFClassifier(alpha=0.3).fit(**args)
    np.testing.assert_allclose(clf.validation_gaps_["before"], 0.0, atol=1e-12)


def test_clean_fit_has_no_such_warning(biased_split):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IFFairClassifier(n_updates=2).fit(**_args(biased_split))


# ------------------------------------------------------------ ValidationSet
@pytest.mark.parametrize("cls", [FairIFClassifier, IFFairClassifier])
def test_validation_set_equals_separate_arguments(biased_split, cls):
    from sklearn_fairif import ValidationSet

    args = _args(biased_split)
    ref = cls(random_state=0).fit(**args)
    val = ValidationSet(args["X_val"], args["y_val"], s=args["s_val"])
    clf = cls(random_state=0).fit(args["X"], args["y"], validation_set=val)
    np.testing.assert_allclose(clf.sample_weight_, ref.sample_weight_)
    with pytest.raises(ValueError, match="validation_set"):
        cls().fit(**args, validation_set=val)
    with pytest.raises(TypeError, match="validation_set"):
        cls().fit(args["X"], args["y"], validation_set=(1, 2, 3))


def test_validation_set_is_not_sliced_by_cross_validation(biased_split):
    from sklearn.model_selection import GridSearchCV

    from sklearn_fairif import ValidationSet

    X, y, X_val, y_val, s_val = biased_split[:5]
    # 1500 validation rows = a training fold of a 4-fold CV over 2000 rows:
    # passed as X_val they would be sliced, as a ValidationSet they are not.
    X_val, y_val, s_val = (np.concatenate([a, a[:500]]) for a in (X_val, y_val, s_val))
    seen = []

    class Spy(FairIFClassifier):
        def fit(self, X, y, **kw):
            seen.append(len(kw["validation_set"].X))
            return super().fit(X, y, **kw)

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        GridSearchCV(Spy(), {"alpha": [0.3]}, cv=4).fit(
            X, y, validation_set=ValidationSet(X_val, y_val, s=s_val))
    assert seen == [1500] * 5


# ------------------------------------------------------- degenerate settings
def test_flat_temperature_warns_that_weights_do_not_move(biased_split):
    with pytest.warns(UserWarning, match="temperature=1e\\+06"):
        FairIFClassifier(temperature=1e6).fit(**_args(biased_split))


def test_iffair_saturated_temperature_warns(biased_split):
    with pytest.warns(UserWarning, match="temperature=1e-06"):
        IFFairClassifier(temperature=1e-6, n_updates=2).fit(**_args(biased_split))


@pytest.mark.parametrize("cls", [FairIFClassifier, IFFairClassifier])
def test_small_cell_warns_naming_the_group(biased_split, cls):
    from sklearn_fairif.utils._validation import FairIFDataWarning

    args = _args(biased_split)
    s = args["s_val"].copy()
    positives = np.flatnonzero((s == 0) & (args["y_val"] == 1))
    s[positives[3:]] = 1  # group 0 keeps 3 positive rows
    with pytest.warns(FairIFDataWarning, match="s_val"):
        cls().fit(**{**args, "s_val": s})


def test_continuous_groups_warn(biased_split):
    args = _args(biased_split)
    s = np.random.default_rng(0).normal(size=len(args["s_val"]))
    with pytest.warns(UserWarning, match="s_val"), pytest.raises(ValueError):
        FairIFClassifier().fit(**{**args, "s_val": s})


def test_single_class_y_val_named(biased_split):
    args = _args(biased_split)
    with pytest.raises(ValueError, match="y_val holds only one class"):
        FairIFClassifier().fit(**{**args, "y_val": np.ones(len(args["y_val"]))})
