"""IFFairClassifier: the update rule, its guarantees, and scikit-learn integration."""

import pickle

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_fairif import IFFairClassifier
from sklearn_fairif._iffair_rule import _costliest, iffair_step, project_weights
from sklearn_fairif._objectives import FairnessConstraints, stack_constraints
from sklearn_fairif.metrics import average_odds_difference


def _fit(clf, data, **kw):
    X, y, X_val, y_val, s_val = data[:5]
    return clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val, **kw)


# ------------------------------------------------- group-oriented quantities
def _case(seed, m=200, groups=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    s = rng.choice(np.array(groups), size=m)
    s[: 2 * len(groups)] = np.repeat(np.array(groups), 2)
    y = rng.integers(0, 2, size=m)
    y[: 2 * len(groups)] = np.tile([0, 1], len(groups))
    return rng.normal(scale=2.0, size=m), y, s


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_per_group_rates_match_hand_computation(tau):
    z, y, s = _case(0)
    per = FairnessConstraints("equalized_odds", y, s, temperature=tau,
                              contrast="per_group")
    expected, names = [], []
    for rate, cell, soft in (("tpr", y == 1, expit(z / tau)),
                             ("tnr", y == 0, expit(-z / tau))):
        for g in ("a", "b", "c"):
            rows = cell & (s == g)
            expected.append(soft[rows].mean())
            names.append(f"{rate}[{g}]")
    assert per.names == names
    assert per.rates == ["tpr"] * 3 + ["tnr"] * 3
    assert per.groups == ["a", "b", "c"] * 2
    assert_allclose(per.values(z), expected, rtol=1e-12)
    # The pairwise constraints are differences of the per-group rates.
    pair = FairnessConstraints("equalized_odds", y[s != "c"], s[s != "c"],
                               temperature=tau)
    per2 = FairnessConstraints("equalized_odds", y[s != "c"], s[s != "c"],
                               temperature=tau, contrast="per_group")
    v = per2.values(z[s != "c"])
    assert_allclose(pair.values(z[s != "c"]), [v[0] - v[1], v[2] - v[3]],
                    rtol=1e-12)
    # Hard per-group rates, and a constant group gives the overall rate.
    y_pred = (z > 0).astype(int)
    tpr_a = np.mean(y_pred[(y == 1) & (s == "a")])
    assert per.hard_values(y_pred)[0] == pytest.approx(tpr_a)
    overall = FairnessConstraints("accuracy_parity", y, np.zeros(len(y)),
                                  contrast="per_group")
    assert overall.hard_values(y_pred)[0] == pytest.approx(np.mean(y_pred == y))


def test_stack_constraints_keeps_each_temperature():
    z, y, s = _case(1)
    a = FairnessConstraints("equal_opportunity", y, s, contrast="per_group")
    b = FairnessConstraints("accuracy_parity", y, np.zeros(len(y)),
                            temperature=0.25, contrast="per_group")
    both = stack_constraints(a, b)
    assert both.names == a.names + b.names
    assert_allclose(both.values(z), np.r_[a.values(z), b.values(z)], rtol=1e-12)
    assert_allclose(both.grad_margins(z),
                    np.hstack([a.grad_margins(z), b.grad_margins(z)]), rtol=1e-12)
    with pytest.raises(ValueError, match="contrast"):
        FairnessConstraints("equal_opportunity", y, s, contrast="nope")


# ------------------------------------------------------------ update rule
def test_projection_mean_one_within_bounds_and_ratio_preserving():
    rng = np.random.default_rng(0)
    w = np.exp(rng.normal(scale=1.5, size=1000))
    p = project_weights(w, 0.2, 3.0)
    assert abs(p.mean() - 1) < 1e-12 and p.min() >= 0.2 and p.max() <= 3.0
    free = (p > 0.2) & (p < 3.0)
    ratio = p[free] / w[free]
    assert_allclose(ratio, ratio[0], rtol=1e-12)  # one common scale factor
    assert_allclose(project_weights(np.ones(5) * 7, 0, np.inf), np.ones(5))


def _step_problem(n=400, seed=0):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, 2)) / n
    return D, np.array([0.3, 0.1])


@pytest.mark.parametrize("variant", ["uniform", "diverse"])
def test_variants_step_shape(variant):
    D, gaps = _step_problem()
    w = np.ones(len(D))
    # Large gaps: the line search keeps the full step.
    new, info = iffair_step(w, D, 1e3 * gaps, variant=variant, step_size=0.1,
                            bounds=(0.0, np.inf))
    assert info["step_scale"] == 1.0 and info["n_skipped"] == 0
    d = info["disparity"]
    assert_allclose(d, D @ gaps / gaps.sum())
    log_step = np.log(new / w)
    log_step -= np.median(log_step[d > 0]) - 0.1 if variant == "uniform" else 0
    if variant == "uniform":
        # The same relative step for every sample, by the sign of d.
        assert_allclose(log_step, 0.1 * np.sign(d), atol=1e-12)
    else:
        # Proportional to d, up to the common renormalisation factor.
        slope, intercept = np.polyfit(d, np.log(new), 1)
        assert_allclose(np.log(new), slope * d + intercept, atol=1e-10)
        assert slope * np.sqrt(np.mean(d * d)) == pytest.approx(0.1)
    assert abs(new.mean() - 1) < 1e-12
    # To first order, up-weighting samples with d > 0 closes the gaps.
    assert info["predicted_gap_change"] < 0


def test_line_search_does_not_overshoot():
    D, gaps = _step_problem()
    new, info = iffair_step(np.ones(len(D)), D, 1e-4 * gaps, variant="diverse",
                            step_size=1.0, bounds=(0.0, 10.0))
    assert 0 < info["step_scale"] < 1
    # Half-way to the minimiser of the predicted squared gaps.
    slope = -((new - 1) @ D) / info["step_scale"]
    t_best = -(1e-4 * gaps @ slope) / (slope @ slope)
    assert info["step_scale"] == pytest.approx(0.5 * t_best)


def test_guard_skips_costliest_changes_first():
    cost = np.array([3.0, -1.0, 1.0, 2.0, 0.5])
    benefit = np.array([1.0, 1.0, 1.0, 0.0, 5.0])
    # Ratios: 3, -, 1, inf, 0.1 -> skip index 3 (no benefit), then 0.
    assert_array_equal(_costliest(cost, benefit, 1.0), [1, 0, 0, 1, 0])
    assert not _costliest(cost, benefit, 10.0).any()
    # A negative budget (after an overrun) asks for a predicted gain.
    assert_array_equal(_costliest(cost, benefit, -0.5), [1, 0, 1, 1, 0])
    assert_array_equal(_costliest(cost, benefit, -0.6), [1, 0, 1, 1, 1])


@pytest.mark.parametrize("budget", [0.0, 1e-3, -1e-3])
def test_guard_bounds_the_predicted_accuracy_fall(budget):
    rng = np.random.default_rng(1)
    D, gaps = _step_problem()
    # Accuracy influences anti-correlated with the disparity: a real trade-off.
    acc = -D @ gaps * 5 + rng.normal(size=len(D)) / len(D) ** 2
    w = project_weights(np.exp(rng.normal(scale=0.3, size=len(D))), 0, 10)
    new, info = iffair_step(w, D, gaps, variant="uniform", step_size=0.5,
                            bounds=(0.0, 10.0), accuracy_influence=acc,
                            accuracy_budget=budget)
    fall = -(new - w) @ acc
    assert fall <= 0.5 * max(budget, 0.0) + 1e-15
    assert info["predicted_accuracy_change"] == pytest.approx(-fall, abs=1e-15)
    assert info["n_skipped"] > 0


# ------------------------------------------------------------- behaviour
def test_without_validation_set_equals_plain_fit(biased_split):
    X, y = biased_split[:2]
    clf = IFFairClassifier(LogisticRegression(C=0.3)).fit(X, y)
    assert_allclose(clf.estimator_.coef_, LogisticRegression(C=0.3).fit(X, y).coef_)
    assert_array_equal(clf.sample_weight_, np.ones(len(y)))
    assert clf.n_updates_ == 0


@pytest.mark.parametrize("variant", ["uniform", "diverse"])
@pytest.mark.parametrize(
    "objective, factor",
    [("equalized_odds", 0.9), ("equal_opportunity", 0.2),
     ("error_rate_parity", 0.6), ("demographic_parity", 0.3)],
)
def test_each_variant_lowers_the_targeted_validation_gap(biased_split, variant,
                                                         objective, factor):
    clf = _fit(IFFairClassifier(objective=objective, variant=variant),
               biased_split)
    gaps = clf.validation_gaps_.sum(axis=1)  # hard gaps, row 0 = unweighted
    soft = np.sum(clf.history_["soft_gaps"], axis=1)
    print(f"{objective} {variant}: hard {gaps[0]:.3f} -> {gaps[-1]:.3f}, "
          f"soft {soft[0]:.3f} -> {soft[-1]:.3f}")
    assert gaps[-1] < factor * gaps[0]
    assert soft[-1] < 0.75 * soft[0]
    assert clf.gap_names_ == {"equalized_odds": ["tpr", "tnr"],
                              "equal_opportunity": ["tpr"],
                              "error_rate_parity": ["accuracy"],
                              "demographic_parity": ["selection_rate"]}[objective]


def test_test_aod_drops_on_the_held_out_set(biased_split):
    clf = _fit(IFFairClassifier(utility_tolerance=0.03), biased_split)
    X, y = biased_split[:2]
    X_test, y_test, s_test = biased_split[5:]
    erm = LogisticRegression().fit(X, y).predict(X_test)
    before = average_odds_difference(y_test, erm, sensitive_features=s_test)
    after = average_odds_difference(y_test, clf.predict(X_test),
                                    sensitive_features=s_test)
    assert after < 0.8 * before


@pytest.mark.parametrize("bounds", [(0.0, 10.0), (0.5, 2.0), (0.9, 1.1)])
def test_weights_stay_in_bounds_and_mean_one(biased_split, bounds):
    clf = _fit(IFFairClassifier(LogisticRegression(C=0.5), weight_bounds=bounds,
                                step_size=0.5, utility_tolerance=None),
               biased_split)
    T = clf.weight_trajectory_
    assert T.shape == (clf.n_updates_ + 1, len(biased_split[1]))
    assert_array_equal(T[0], 1.0)
    assert_array_equal(T[-1], clf.sample_weight_)
    assert T.min() >= bounds[0] and T.max() <= bounds[1]
    assert_allclose(T.mean(axis=1), 1.0, atol=1e-12)
    assert clf.sample_weight_.std() > 0.01
    # The final model is the (warm-started) fit with the final weights.
    X, y = biased_split[:2]
    ref = LogisticRegression(C=0.5).fit(X, y, sample_weight=clf.sample_weight_)
    assert_allclose(clf.estimator_.coef_, ref.coef_, atol=2e-3)
    assert clf.estimator_.get_params()["warm_start"] is False


def test_utility_guard_is_respected(biased_split):
    tol = 0.005
    guarded = _fit(IFFairClassifier(utility_tolerance=tol), biased_split)
    free = _fit(IFFairClassifier(utility_tolerance=None), biased_split)
    h = guarded.history_
    budgets = np.array(h["accuracy_budget"])
    # Predicted: every update spends at most half of what is left.
    assert np.all(-np.array(h["predicted_accuracy_change"])
                  <= 0.5 * np.maximum(budgets, 0) + 1e-12)
    assert budgets[0] == tol
    # Actual: the soft accuracy the guard predicts stays close to the
    # tolerance, while the unguarded run gives up far more.
    soft = np.array(h["val_soft_accuracy"])
    soft_free = np.array(free.history_["val_soft_accuracy"])
    print(f"soft accuracy fall: guarded {soft[0] - soft.min():.4f}, "
          f"unguarded {soft_free[0] - soft_free.min():.4f}")
    assert soft[0] - soft.min() < 1.5 * tol
    assert soft_free[0] - soft_free.min() > 3 * tol
    assert np.isinf(free.history_["accuracy_budget"]).all()
    assert (h["val_accuracy"][0] - h["val_accuracy"][-1]
            < free.history_["val_accuracy"][0] - free.history_["val_accuracy"][-1])


def test_history_and_attributes(biased_split, capsys):
    clf = _fit(IFFairClassifier(n_updates=4, verbose=1), biased_split)
    T = clf.n_updates_
    assert 1 <= T <= 4
    assert clf.validation_gaps_.shape == (T + 1, 2)
    for key in ("epoch", "soft_gaps", "group_rates", "val_accuracy",
                "val_soft_accuracy"):
        assert len(clf.history_[key]) == T + 1, key
    for key in ("predicted_gap_change", "predicted_accuracy_change",
                "accuracy_budget", "n_skipped", "step_scale"):
        assert len(clf.history_[key]) == T, key
    assert clf.group_rate_names_ == ["tpr[0]", "tpr[1]", "tnr[0]", "tnr[1]"]
    assert clf.influence_.shape == (len(biased_split[1]), 4)
    assert clf.disparity_.shape == (len(biased_split[1]),)
    assert set(clf.stage_times_) == {"training", "influence", "updates"}
    assert "[IFFair] update 1" in capsys.readouterr().out


def test_more_than_two_groups(three_group_split):
    clf = _fit(IFFairClassifier(objective="equal_opportunity"), three_group_split)
    assert clf.group_rate_names_ == ["tpr[0]", "tpr[1]", "tpr[2]"]
    gaps = clf.validation_gaps_[:, 0]  # largest minus smallest group TPR
    assert gaps[-1] < gaps[0]


def test_demographic_parity_without_labels_has_no_guard(biased_split):
    X, y, X_val, _, s_val = biased_split[:5]
    clf = IFFairClassifier(objective="demographic_parity")
    clf.fit(X, y, X_val=X_val, s_val=s_val)
    assert np.isnan(clf.history_["val_accuracy"]).all()
    assert np.isinf(clf.history_["accuracy_budget"]).all()
    assert clf.validation_gaps_[-1, 0] < 0.5 * clf.validation_gaps_[0, 0]


def test_user_sample_weight_multiplies(biased_split):
    X, y = biased_split[:2]
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    clf = _fit(IFFairClassifier(n_updates=3), biased_split, sample_weight=sw)
    ref = LogisticRegression().fit(X, y, sample_weight=sw * clf.sample_weight_)
    assert_allclose(clf.estimator_.coef_, ref.coef_, atol=2e-3)


def test_pipeline_equals_manual_preprocessing(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    X, X_val = X * 10 + 3, X_val * 10 + 3
    clf = IFFairClassifier(make_pipeline(StandardScaler(), LogisticRegression()),
                           n_updates=3)
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    scaler = StandardScaler().fit(X)
    manual = IFFairClassifier(n_updates=3).fit(
        scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val,
        s_val=s_val,
    )
    assert_allclose(clf.weight_trajectory_, manual.weight_trajectory_, atol=1e-6)


def test_influence_estimator_for_non_differentiable_model(biased_split):
    tree = DecisionTreeClassifier(max_depth=4, random_state=0)
    with pytest.raises(TypeError, match="influence_estimator"):
        _fit(IFFairClassifier(tree), biased_split)
    clf = _fit(IFFairClassifier(tree, influence_estimator=LogisticRegression(),
                                n_updates=3), biased_split)
    assert isinstance(clf.estimator_, DecisionTreeClassifier)
    X, y = biased_split[:2]
    ref_tree = clone(tree).fit(X, y, sample_weight=clf.sample_weight_)
    assert_array_equal(clf.predict(X), ref_tree.predict(X))
    ref = _fit(IFFairClassifier(n_updates=3), biased_split)
    assert_allclose(clf.sample_weight_, ref.sample_weight_)


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"s_val": None}, "without s_val"),
        ({"y_val": None}, "needs validation labels"),
        ({"y_val": np.zeros(10)}, "y_val has 10 rows"),
    ],
)
def test_bad_validation_input(biased_split, kwargs, match):
    X, y, X_val, y_val, s_val = biased_split[:5]
    args = {"X_val": X_val, "y_val": y_val, "s_val": s_val, **kwargs}
    with pytest.raises(ValueError, match=match):
        IFFairClassifier().fit(X, y, **args)


@pytest.mark.parametrize("bounds", [(1.5, 3.0), (0.0, 0.5), (1.0, 1.0), (-1, 2),
                                    ("a", 2), (1, 2, 3)])
def test_bad_weight_bounds(biased_split, bounds):
    with pytest.raises(ValueError, match="weight_bounds"):
        _fit(IFFairClassifier(weight_bounds=bounds), biased_split)


@pytest.mark.parametrize("params", [{"variant": "random"}, {"step_size": 0},
                                    {"n_updates": 0}, {"utility_tolerance": -1}])
def test_bad_parameters(biased_split, params):
    with pytest.raises(InvalidParameterError):
        _fit(IFFairClassifier(**params), biased_split)


# ------------------------------------------------- scikit-learn integration
@parametrize_with_checks([IFFairClassifier(LogisticRegression())])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_cross_validate_routes_the_validation_set(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    meta = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    with sklearn.config_context(enable_metadata_routing=True):
        res = cross_validate(IFFairClassifier(n_updates=2), X, y, cv=3,
                             params=meta, return_estimator=True)
    for est in res["estimator"]:
        assert est.n_updates_ >= 1 and est.sample_weight_.std() > 0


def test_clone_pickle_and_determinism(biased_split):
    clf = IFFairClassifier(LogisticRegression(C=2.0), n_updates=3)
    fitted = _fit(clone(clf), biased_split)
    again = pickle.loads(pickle.dumps(fitted))
    X_test = biased_split[5]
    assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    assert_array_equal(_fit(clone(clf), biased_split).weight_trajectory_,
                       fitted.weight_trajectory_)


# ------------------------------------------------------ skorch (dynamic)
def _mlp(max_epochs=12, **kw):
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    params = dict(max_epochs=max_epochs, batch_size=256, train_split=None,
                  verbose=0, optimizer=torch.optim.Adam, optimizer__lr=0.02,
                  optimizer__weight_decay=1e-3)
    params.update(kw)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 1))
    return skorch.NeuralNetBinaryClassifier(module, **params)


def _float32(data):
    X, y, X_val, y_val, s_val = data[:5]
    return X.astype(np.float32), y.astype(np.float32), X_val.astype(np.float32), \
        y_val, s_val


def test_epoch_hook_updates_the_weights(one_thread):
    """A weight returned by the hook is the weight of the next epochs' batches."""
    torch = pytest.importorskip("torch")
    from sklearn_fairif.adapters._torch import SkorchAdapter

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    sgd = {"optimizer": torch.optim.SGD, "optimizer__lr": 0.1,
           "optimizer__weight_decay": 0.0}

    def zero_after_first_epoch(net):
        return np.zeros(len(y))  # no loss, no gradient, no SGD step from now on

    three = SkorchAdapter.fit(_mlp(max_epochs=3, **sgd), X, y, np.ones(len(y)),
                              on_epoch_end=zero_after_first_epoch)
    one = SkorchAdapter.fit(_mlp(max_epochs=1, **sgd), X, y, np.ones(len(y)))
    for a, b in zip(three.module_.parameters(), one.module_.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    assert "__fairif_epoch_hook__" not in dict(three.callbacks_)
    assert three.get_params()["callbacks"] is None


def test_skorch_net_is_reweighted_during_training(biased_split, one_thread):
    X, y, X_val, y_val, s_val = _float32(biased_split)
    pipe = make_pipeline(
        StandardScaler(), FunctionTransformer(np.asarray,
                                              kw_args={"dtype": np.float32}),
        _mlp(),
    )
    clf = IFFairClassifier(pipe, update_every=3, n_updates=3, damping=0.1,
                           utility_tolerance=0.03, random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    h = clf.history_
    assert h["epoch"] == [3, 6, 9, 12]  # the updates, then the end of training
    assert clf.n_updates_ == 3
    net = clf.estimator_[-1]
    assert type(net).__name__ == "NeuralNetBinaryClassifier"
    assert clf.predict(X_val).shape == (len(y_val),)
    assert [row["epoch"] for row in net.history if "iffair_val_gap" in row] == [
        3, 6, 9]
    assert "__fairif_epoch_hook__" not in dict(net.callbacks_)
    T = clf.weight_trajectory_
    assert T.shape == (4, len(y)) and np.abs(T.mean(axis=1) - 1).max() < 1e-12
    gaps = clf.validation_gaps_.sum(axis=1)
    print(f"net: validation gap {gaps[0]:.3f} -> {gaps[-1]:.3f}")
    assert gaps[-1] < gaps[0]


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["uniform", "diverse"])
def test_skorch_net_lowers_test_aod(biased_split, variant, one_thread):
    X, y, X_val, y_val, s_val = _float32(biased_split)
    X_test, y_test, s_test = biased_split[5:]
    X_test = X_test.astype(np.float32)
    erm = clone(_mlp(max_epochs=30)).fit(X, y)
    clf = IFFairClassifier(_mlp(max_epochs=30), variant=variant, update_every=2,
                           damping=0.1, random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    before = average_odds_difference(y_test, erm.predict(X_test),
                                     sensitive_features=s_test)
    after = average_odds_difference(y_test, clf.predict(X_test),
                                    sensitive_features=s_test)
    print(f"{variant}: test AOD {before:.3f} -> {after:.3f}")
    assert after < 0.8 * before


@pytest.mark.parametrize("scale", [1e-20, 1e20])
def test_projection_keeps_mean_one_for_extreme_scales(scale):
    # A step of exp(+-50) (uniform variant, step_size=50) used to lose mean 1.
    w = scale * np.exp(50 * np.sign(np.random.default_rng(0).normal(size=1000)))
    p = project_weights(w, 0.0, 10.0)
    assert abs(p.mean() - 1) < 1e-12
    assert p.min() >= 0 and p.max() <= 10


def test_large_uniform_steps_keep_mean_one(biased_split):
    clf = _fit(IFFairClassifier(variant="uniform", step_size=50, n_updates=3,
                                utility_tolerance=None), biased_split)
    assert abs(clf.sample_weight_.mean() - 1) < 1e-9
    assert np.all(np.abs(clf.weight_trajectory_.mean(axis=1) - 1) < 1e-9)
