"""The benchmark's baselines (benchmarks/baselines.py) do what they claim."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif.datasets import make_biased_classification, train_val_test_split

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "baselines.py"


@pytest.fixture(scope="module")
def bl():
    spec = importlib.util.spec_from_file_location("fairif_bench_baselines", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def split():
    X, y, s = make_biased_classification(3000, bias="group_size", random_state=0)
    return train_val_test_split(X, y, s, random_state=0)


def _model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _fit_args(split):
    X_tr, X_val, _, y_tr, y_val, _, s_tr, s_val, _ = split
    return X_tr, y_tr, s_tr, X_val, y_val, s_val


def test_kamiran_calders_weights_make_label_independent_of_group(bl):
    rng = np.random.default_rng(0)
    s = rng.choice(3, size=2000, p=[0.6, 0.3, 0.1])
    y = (rng.random(2000) < np.array([0.2, 0.5, 0.8])[s]).astype(int)
    w = bl.KamiranCalders.weights(y, s)
    assert np.isclose(w.sum(), len(y))
    overall = np.mean(y)
    for g in range(3):
        in_g = s == g
        # Weighted P(y = 1 | s = g) equals P(y = 1); weighted P(s = g) unchanged.
        assert np.isclose(np.average(y[in_g], weights=w[in_g]), overall)
        assert np.isclose(w[in_g].sum() / w.sum(), in_g.mean())


def test_li_liu_lp_respects_its_constraints(bl):
    rng = np.random.default_rng(1)
    n = 500
    a_fair = rng.normal(size=n)
    a_util = rng.normal(size=n)
    f = 2.0
    for lam in (0.25, 1.0):
        x = bl.LiLiu.solve_lp(a_fair, a_util, f, lam)
        assert x.shape == (n,)
        assert np.all((x >= 0) & (x <= 1))
        assert x @ a_fair >= lam * f - 1e-7      # fairness gain reached
        assert -(x @ a_util) <= 1e-7             # no predicted utility loss
        assert 0 < x.sum() < n                   # a minimal, partial removal
    # Infeasible (no sample improves fairness): nothing is removed.
    x = bl.LiLiu.solve_lp(-np.abs(a_fair), a_util, f, 0.5)
    assert not x.any()


def test_li_liu_influence_predicts_the_refit(bl, split):
    """The validation-loss influence matches an actual removal refit."""
    from sklearn_fairif.adapters import make_adapter

    X_tr, y_tr, _, X_val, y_val, s_val = _fit_args(split)
    scaler = StandardScaler().fit(X_tr)
    Xt, Xv = scaler.transform(X_tr), scaler.transform(X_val)
    lr = LogisticRegression().fit(Xt, y_tr)
    adapter = make_adapter(lr, Xt, y_tr)
    a_fair, a_util, f = bl.LiLiu.influences(adapter, Xv, y_val, s_val)
    assert a_fair.shape == a_util.shape == (len(y_tr),)
    assert f > 0

    def val_loss(model):
        p = np.clip(model.predict_proba(Xv)[:, 1], 1e-12, 1 - 1e-12)
        return -np.mean(y_val * np.log(p) + (1 - y_val) * np.log(1 - p))

    base = val_loss(lr)
    rng = np.random.default_rng(0)
    predicted, actual = [], []
    for _ in range(12):
        idx = rng.choice(len(y_tr), size=40, replace=False)
        w = np.ones(len(y_tr))
        w[idx] = 0.0
        refit = LogisticRegression().fit(Xt, y_tr, sample_weight=w)
        actual.append(val_loss(refit) - base)
        predicted.append(-a_util[idx].sum())
    assert np.corrcoef(predicted, actual)[0, 1] > 0.9


def test_every_method_fits_and_predicts(bl, split):
    X_te, y_te = split[2], split[5]
    for method in bl.all_methods(_model, alphas=[0.1, 1.0]):
        method.fit(*_fit_args(split))
        y_pred = method.predict(X_te)
        assert y_pred.shape == y_te.shape
        assert np.mean(y_pred == y_te) > 0.6, method.name
    assert {m.name for m in bl.all_methods(_model, alphas=[1.0])
            if m.uses_train_groups} == {"Kamiran & Calders",
                                        "ExpGrad (EqualizedOdds)"}


def test_jtt_with_unit_upweight_is_erm(bl, split):
    X_te = split[2]
    jtt = bl.JTT(_model(), first_params=({"C": 0.1},), lambdas=(1,))
    jtt.fit(*_fit_args(split))
    erm = bl.ERM(_model()).fit(*_fit_args(split))
    np.testing.assert_array_equal(jtt.predict(X_te), erm.predict(X_te))


def test_select_follows_fairifs_rule(bl):
    cands = [{"val_acc": 0.80, "val_aod": 0.01}, {"val_acc": 0.85, "val_aod": 0.05},
             {"val_acc": 0.845, "val_aod": 0.03}]
    assert bl.select(cands, acc_ref=0.85)["val_aod"] == 0.03
    assert bl.select(cands, acc_ref=0.95)["val_acc"] == 0.85


def test_gap_penalty_without_penalty_is_sklearns_fit(bl, split):
    # mu = 0 leaves scikit-learn's own objective: the minimiser must be its
    # (tightly converged) fit. A C off by a factor of 2 moves coef by 4e-2 here.
    tight = _model().set_params(logisticregression__tol=1e-12)
    ref = bl.ERM(tight).fit(*_fit_args(split)).model_
    method = bl.GapPenalty(_model(), mu=0.0).fit(*_fit_args(split))
    np.testing.assert_allclose(method.theta_[:-1], ref.coef_.ravel(), atol=5e-5)
    np.testing.assert_allclose(method.theta_[-1], ref.intercept_[0], atol=5e-5)


@pytest.mark.parametrize("groups", ["val", "train"])
def test_gap_penalty_shrinks_the_gaps_it_penalises(bl, split, groups):
    from sklearn_fairif.influence import FairnessConstraints

    X_tr, X_val, _, y_tr, y_val, _, s_tr, s_val, _ = split
    X, y, s = (X_val, y_val, s_val) if groups == "val" else (X_tr, y_tr, s_tr)
    constraints = FairnessConstraints("equalized_odds", y, s)
    gaps = []
    for mu in (0.0, 10.0):
        method = bl.GapPenalty(_model(), mu=mu, groups=groups)
        method.fit(*_fit_args(split))
        Z = bl._with_intercept(method.prepared_.transform(X))
        gaps.append(np.abs(constraints.values(Z @ method.theta_)).sum())
    assert method.uses_train_groups == (groups == "train")
    assert gaps[1] < 0.5 * gaps[0]


def test_fairif_curve_refits_what_the_estimator_fits(bl, split):
    # The curve refits cold; FairIFClassifier may warm-start its refit, which
    # agrees within the solver's tolerance (a handful of test predictions).
    X_tr, y_tr, s_tr, X_val, y_val, s_val = _fit_args(split)
    X_te = split[2]
    method = bl.FairIF(_model(), alpha=0.3).fit(X_tr, y_tr, s_tr, X_val, y_val,
                                                 s_val)
    erm = bl.ERM(_model()).fit(X_tr, y_tr).predict(X_te)
    at_03, at_3 = method.curve(X_tr, y_tr, X_te, [0.3, 3.0])
    assert np.mean(at_03 == method.predict(X_te)) > 0.99
    assert not np.array_equal(at_03, erm)  # the weights did change the model
    assert np.mean(at_3 != erm) <= np.mean(at_03 != erm)  # larger alpha: closer
