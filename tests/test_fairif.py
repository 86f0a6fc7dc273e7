"""FairIFClassifier: behaviour, errors and scikit-learn integration."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_fairif import FairIFClassifier
from sklearn_fairif._objectives import FairnessConstraints
from sklearn_fairif.metrics import average_odds_difference


def _fit(clf, data, **kw):
    X, y, X_val, y_val, s_val = data[:5]
    return clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val, **kw)


# ------------------------------------------------------------------ behaviour
def test_without_validation_set_equals_plain_fit(biased_split):
    X, y = biased_split[:2]
    clf = FairIFClassifier(LogisticRegression(C=0.3)).fit(X, y)
    ref = LogisticRegression(C=0.3).fit(X, y)
    assert_allclose(clf.estimator_.coef_, ref.coef_)
    assert_array_equal(clf.sample_weight_, np.ones(len(y)))


def test_weights_mean_one_nonnegative_and_used_in_refit(biased_split):
    clf = _fit(FairIFClassifier(LogisticRegression(C=0.5), refit_start="initial"),
               biased_split)
    w = clf.sample_weight_
    assert w.min() >= 0 and abs(w.mean() - 1) < 1e-9 and w.std() > 0.01
    X, y = biased_split[:2]
    ref = LogisticRegression(C=0.5).fit(X, y, sample_weight=w)
    assert_allclose(clf.estimator_.coef_, ref.coef_, rtol=1e-6)
    assert clf.influence_.shape == (len(y), 2)
    assert clf.constraint_names_ == ["tpr[0] - tpr[1]", "tnr[0] - tnr[1]"]


def test_reweighting_lowers_validation_and_test_gaps(biased_split):
    clf = _fit(FairIFClassifier(alpha=0.01), biased_split)
    gaps = clf.validation_gaps_
    assert np.abs(gaps["after"]).sum() < 0.5 * np.abs(gaps["before"]).sum()
    assert np.abs(gaps["hard_after"]).mean() < np.abs(gaps["hard_before"]).mean()
    # The first-order prediction tracks the refitted surrogate.
    assert_allclose(gaps["predicted"], gaps["after"], atol=0.02)
    X_test, y_test, s_test = biased_split[5:]
    erm = clf.initial_estimator_.predict(X_test)
    fair = clf.predict(X_test)
    assert average_odds_difference(
        y_test, fair, sensitive_features=s_test
    ) < average_odds_difference(y_test, erm, sensitive_features=s_test)


def test_user_sample_weight_multiplies(biased_split):
    X, y = biased_split[:2]
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    clf = _fit(FairIFClassifier(refit_start="initial"), biased_split,
               sample_weight=sw)
    ref0 = LogisticRegression().fit(X, y, sample_weight=sw)
    assert_allclose(clf.initial_estimator_.coef_, ref0.coef_, rtol=1e-6)
    ref = LogisticRegression().fit(X, y, sample_weight=sw * clf.sample_weight_)
    assert_allclose(clf.estimator_.coef_, ref.coef_, rtol=1e-6)


@pytest.mark.parametrize(
    "objective, n_constraints",
    [("equalized_odds", 2), ("equal_opportunity", 1), ("accuracy_parity", 1),
     ("demographic_parity", 1)],
)
def test_objectives_reduce_their_gap(biased_split, objective, n_constraints):
    clf = _fit(FairIFClassifier(objective=objective, alpha=0.003), biased_split)
    gaps = clf.validation_gaps_
    assert clf.influence_.shape[1] == n_constraints
    assert np.abs(gaps["after"]).sum() < np.abs(gaps["before"]).sum()


def test_demographic_parity_needs_no_labels(biased_split):
    X, y, X_val, _, s_val = biased_split[:5]
    clf = FairIFClassifier(objective="demographic_parity")
    clf.fit(X, y, X_val=X_val, s_val=s_val)
    assert np.abs(clf.validation_gaps_["after"]).sum() < np.abs(
        clf.validation_gaps_["before"]
    ).sum()


def test_more_than_two_groups(three_group_split):
    clf = _fit(FairIFClassifier(alpha=0.003), three_group_split)
    assert clf.influence_.shape[1] == 6  # one per group and rate
    assert clf.constraint_names_[0] == "tpr[0] - tpr[all]"
    gaps = clf.validation_gaps_
    assert np.abs(gaps["after"]).sum() < 0.5 * np.abs(gaps["before"]).sum()


def test_alpha_path_and_selection(biased_split):
    alphas = [0.001, 0.01, 0.1, 1.0]
    clf = _fit(FairIFClassifier(alpha=alphas, tol=0.02), biased_split)
    res = clf.cv_results_
    assert res["alpha"] == alphas and clf.alpha_ in alphas
    base = np.mean(clf.initial_estimator_.predict(biased_split[2]) == biased_split[3])
    admissible = [
        a for a, acc in zip(alphas, res["val_accuracy"], strict=True)
        if acc >= base - 0.02
    ]
    best = min(admissible, key=lambda a: res["val_gap"][alphas.index(a)])
    assert clf.alpha_ == best
    # cv_results_ says which alphas the choice was among.
    assert [a for a, ok in zip(alphas, res["val_within_tol"], strict=True)
            if ok] == admissible
    assert 0 < len(admissible) < len(alphas)  # both kinds occur
    # Weaker penalty -> weights move further from 1.
    single = [
        _fit(FairIFClassifier(alpha=a), biased_split).sample_weight_.std()
        for a in (0.001, 1.0)
    ]
    assert single[0] > single[1]


def test_more_rounds_shrink_the_residual_gap(biased_split):
    one = _fit(FairIFClassifier(alpha=1e-3, n_rounds=1), biased_split)
    three = _fit(FairIFClassifier(alpha=1e-3, n_rounds=3), biased_split)
    residual = [np.abs(c.validation_gaps_["after"]).sum() for c in (one, three)]
    assert residual[1] <= residual[0] + 1e-4


def test_gumbel_surrogate_is_seeded(biased_split):
    a = _fit(FairIFClassifier(surrogate="gumbel", random_state=0), biased_split)
    b = _fit(FairIFClassifier(surrogate="gumbel", random_state=0), biased_split)
    c = _fit(FairIFClassifier(surrogate="gumbel", random_state=1), biased_split)
    assert_array_equal(a.sample_weight_, b.sample_weight_)
    assert not np.array_equal(a.sample_weight_, c.sample_weight_)


def test_warns_when_the_weights_do_not_move(biased_split):
    # Non-zero influences, an alpha far too large for them: the refit is the
    # unweighted model, and the warning says why, at the caller's line.
    with pytest.warns(UserWarning, match=r"moved by at most .* alpha=1e\+09 is "
                      "too large") as record:
        clf = _fit(FairIFClassifier(alpha=1e9), biased_split)
    assert np.abs(clf.sample_weight_ - 1.0).max() < 1e-6
    assert record[0].filename == __file__


@pytest.mark.parametrize("random_state", [None, 3, np.random.RandomState(3)])
def test_gumbel_noise_is_the_selections_too(biased_split, monkeypatch,
                                            random_state):
    # alpha="auto" scores its folds' cells under the noise the constraints
    # are fitted with (one seed for both; None a fixed one: repeatable fits).
    noises = []
    init = FairnessConstraints.__init__

    def keep_noise(self, *args, **kwargs):
        init(self, *args, **kwargs)
        noises.append(self._noise)

    monkeypatch.setattr(FairnessConstraints, "__init__", keep_noise)
    clf = _fit(FairIFClassifier(surrogate="gumbel", random_state=random_state),
               biased_split)
    assert len(noises) >= 2  # the estimator's constraints, the folds' cells
    for noise in noises[1:]:
        assert_array_equal(noise, noises[0])
    if random_state is None:
        again = _fit(FairIFClassifier(surrogate="gumbel"), biased_split)
        assert_array_equal(again.sample_weight_, clf.sample_weight_)


@pytest.mark.parametrize("solver", ["exact", "cg", "lissa"])
def test_solvers_give_the_same_weights(biased_split, solver):
    ref = _fit(FairIFClassifier(solver="exact"), biased_split)
    clf = _fit(FairIFClassifier(solver=solver, random_state=0), biased_split)
    rel = np.linalg.norm(clf.influence_ - ref.influence_) / np.linalg.norm(
        ref.influence_
    )
    assert rel < (0.1 if solver == "lissa" else 1e-4), rel


def test_sgd_classifier(biased_split):
    est = SGDClassifier(loss="log_loss", alpha=1e-3, max_iter=2000, tol=1e-6,
                        random_state=0)
    clf = _fit(FairIFClassifier(est), biased_split)
    assert np.abs(clf.validation_gaps_["after"]).sum() < np.abs(
        clf.validation_gaps_["before"]
    ).sum()


def test_sparse_input_matches_dense(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    dense = FairIFClassifier().fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    sp = FairIFClassifier().fit(
        sparse.csr_matrix(X), y, X_val=sparse.csr_matrix(X_val), y_val=y_val,
        s_val=s_val,
    )
    assert_allclose(sp.sample_weight_, dense.sample_weight_, rtol=1e-4, atol=1e-6)


def _hashed_text_like(n, d, seed):
    """Bag-of-words-like sparse rows over a Zipf vocabulary of d features."""
    rng = np.random.default_rng(seed)
    nnz = 30
    cols = np.minimum(rng.zipf(1.3, size=n * nnz) - 1, d - 1)
    rows = np.repeat(np.arange(n), nnz)
    X = sparse.csr_matrix((np.ones(n * nnz), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    s = rng.integers(0, 2, n)
    beta = rng.normal(size=d) * (np.arange(d) < 200)
    score = X @ beta / 3 + 0.8 * s + rng.normal(size=n)
    return X, (score > np.median(score)).astype(int), s


def test_high_dimensional_sparse_uses_cg():
    X, y, s = _hashed_text_like(4000, 100_000, seed=0)
    clf = FairIFClassifier(LogisticRegression(C=0.1, solver="saga"), alpha=0.003)
    clf.fit(X[:3000], y[:3000], X_val=X[3000:], y_val=y[3000:], s_val=s[3000:])
    assert clf.influence_.shape == (3000, 2)
    assert np.isfinite(clf.influence_).all()
    gaps = clf.validation_gaps_
    assert np.abs(gaps["after"]).sum() < 0.7 * np.abs(gaps["before"]).sum()


def test_influence_estimator_for_non_differentiable_model(biased_split):
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    with pytest.raises(TypeError, match="influence_estimator"):
        _fit(FairIFClassifier(hgb), biased_split)
    clf = _fit(
        FairIFClassifier(hgb, influence_estimator=LogisticRegression()), biased_split
    )
    assert isinstance(clf.estimator_, HistGradientBoostingClassifier)
    assert clf.sample_weight_.std() > 0.01
    ref = _fit(FairIFClassifier(LogisticRegression()), biased_split)
    assert_allclose(clf.sample_weight_, ref.sample_weight_)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"s_val": None}, "without s_val"),
        ({"y_val": None}, "needs validation labels"),
        ({"s_val": np.zeros(1000)}, "only one group|at least two"),
        ({"s_val": np.zeros(10)}, "s_val has 10"),
        ({"y_val": np.zeros(10)}, "y_val has 10 rows"),
        ({"y_val": np.full(1000, 7)}, "not seen in y"),
    ],
)
def test_bad_validation_input(biased_split, kwargs, match):
    X, y, X_val, y_val, s_val = biased_split[:5]
    args = {"X_val": X_val, "y_val": y_val, "s_val": s_val, **kwargs}
    with pytest.raises(ValueError, match=match):
        FairIFClassifier().fit(X, y, **args)


def test_nan_groups_rejected(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    s = s_val.astype(float)
    s[3] = np.nan
    with pytest.raises(ValueError, match="NaN|missing"):
        FairIFClassifier().fit(X, y, X_val=X_val, y_val=y_val, s_val=s)


def test_group_without_positives_named(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    y_val = np.where(s_val == 1, 0, y_val)
    with pytest.raises(ValueError, match="Group 1 has no positive"):
        FairIFClassifier().fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)


def test_non_binary_and_continuous_targets(biased_split):
    X = biased_split[0]
    y3 = np.arange(len(X)) % 3
    with pytest.raises(ValueError, match="Only binary classification"):
        FairIFClassifier().fit(X, y3)
    with pytest.raises(ValueError, match="Unknown label type"):
        FairIFClassifier().fit(X, np.linspace(0, 1, len(X)))


def test_nan_in_features_rejected(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    X_val = X_val.copy()
    X_val[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FairIFClassifier().fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)


@pytest.mark.parametrize(
    "estimator, error, match",
    [
        (FrozenEstimator(LogisticRegression().fit([[0], [1]], [0, 1])), TypeError,
         "FrozenEstimator"),
        (KNeighborsClassifier(), TypeError, "does not accept sample_weight"),
        (LogisticRegression(l1_ratio=1.0, solver="saga"), ValueError, "L1"),
        (SGDClassifier(loss="hinge"), ValueError, "log_loss"),
    ],
)
def test_unsupported_estimators(biased_split, estimator, error, match):
    with pytest.raises(error, match=match):
        _fit(FairIFClassifier(estimator), biased_split)


def test_slicing_trap_warns(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    with pytest.warns(UserWarning, match="as many rows as X"):
        FairIFClassifier().fit(X[:1000], y[:1000], X_val=X_val, y_val=y_val,
                               s_val=s_val)


# ------------------------------------------------------------- pipelines
def test_pipeline_refits_final_step_on_transformed_data(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    X = X * 10 + 3
    X_val = X_val * 10 + 3
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    clf = FairIFClassifier(pipe).fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    assert isinstance(clf.estimator_, Pipeline)
    scaler = StandardScaler().fit(X)
    manual = FairIFClassifier().fit(
        scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val,
        s_val=s_val,
    )
    assert_allclose(clf.sample_weight_, manual.sample_weight_, rtol=1e-6)
    assert_allclose(clf.estimator_[-1].coef_, manual.estimator_.coef_, rtol=1e-6)
    assert_array_equal(clf.predict(X), manual.predict(scaler.transform(X)))


def test_pipeline_with_column_transformer_on_dataframe():
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    n = 1500
    s = rng.integers(0, 2, n)
    df = pd.DataFrame({
        "cat": pd.Categorical(rng.choice(list("abcde"), n)),
        "num": rng.normal(size=n) + s,
    })
    y = ((df["cat"].isin(["a", "b"])) ^ (rng.random(n) < 0.2 + 0.2 * s)).astype(int)
    pre = make_column_transformer(
        (OneHotEncoder(), ["cat"]), (StandardScaler(), ["num"])
    )
    clf = FairIFClassifier(make_pipeline(pre, LogisticRegression()))
    clf.fit(df[:1000], y[:1000], X_val=df[1000:], y_val=y[1000:], s_val=s[1000:])
    assert_array_equal(clf.feature_names_in_, ["cat", "num"])
    assert clf.predict(df[1000:]).shape == (500,)


# ---------------------------------------------- model selection and routing
@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_over_alpha_and_inner_params(biased_split, routing):
    X, y, X_val, y_val, s_val = biased_split[:5]
    grid = GridSearchCV(
        FairIFClassifier(LogisticRegression()),
        {"alpha": [0.01, 0.1], "estimator__C": [0.1, 1.0]}, cv=3,
    )
    with sklearn.config_context(enable_metadata_routing=routing):
        grid.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    best = grid.best_estimator_
    assert best.influence_.shape == (len(y), 2)
    assert len(grid.cv_results_["mean_test_score"]) == 4


@pytest.mark.parametrize("routing", [True, False])
def test_cross_validate(biased_split, routing):
    X, y, X_val, y_val, s_val = biased_split[:5]
    meta = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    with sklearn.config_context(enable_metadata_routing=routing):
        kwargs = {"params": meta} if routing else {"params": meta}
        res = cross_validate(FairIFClassifier(), X, y, cv=3, return_estimator=True,
                             **kwargs)
    for est in res["estimator"]:
        # The validation set reached every fold whole (not sliced).
        assert est.validation_gaps_["before"].shape == (2,)
        assert est.sample_weight_.std() > 0.01


def test_grid_search_routing_on_with_fairness_scorer(biased_split):
    from sklearn_fairif.metrics import make_fairness_scorer

    X, y, X_val, y_val, s_val = biased_split[:5]
    s_train = (X[:, 0] > 0.5).astype(int)  # any labels: only used for scoring
    with sklearn.config_context(enable_metadata_routing=True):
        grid = GridSearchCV(
            FairIFClassifier(), {"alpha": [0.01, 1.0]}, cv=3,
            scoring={"acc": "accuracy", "aod": make_fairness_scorer("aod")},
            refit="acc",
        )
        grid.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val,
                 sensitive_features=s_train)
    assert np.all(grid.cv_results_["mean_test_aod"] <= 0)


def test_pipeline_transform_input_routes_transformed_x_val(biased_split):
    X, y, X_val, y_val, s_val = biased_split[:5]
    X, X_val = X * 5 + 1, X_val * 5 + 1
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline(
            [("scale", StandardScaler()), ("fair", FairIFClassifier())],
            transform_input=["X_val"],
        )
        pipe.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    scaler = StandardScaler().fit(X)
    manual = FairIFClassifier().fit(
        scaler.transform(X), y, X_val=scaler.transform(X_val), y_val=y_val,
        s_val=s_val,
    )
    assert_allclose(pipe[-1].sample_weight_, manual.sample_weight_, rtol=1e-6)


# -------------------------------------------------------- estimator basics
def test_clone_params_pickle_and_determinism(biased_split):
    clf = FairIFClassifier(LogisticRegression(C=2.0), alpha=[0.01, 0.1])
    assert clf.get_params()["estimator__C"] == 2.0
    clf.set_params(estimator__C=0.5)
    assert clf.estimator.C == 0.5
    fitted = _fit(clone(clf), biased_split)
    again = pickle.loads(pickle.dumps(fitted))
    X_test = biased_split[5]
    assert_array_equal(again.predict(X_test), fitted.predict(X_test))
    assert_allclose(again.predict_proba(X_test), fitted.predict_proba(X_test))
    refit = _fit(clone(clf), biased_split)
    assert_array_equal(refit.sample_weight_, fitted.sample_weight_)


def test_verbose_reports_stages(biased_split, capsys):
    _fit(FairIFClassifier(verbose=1), biased_split)
    out = capsys.readouterr().out
    assert "stage 1" in out and "influence" in out and "stage 2" in out


def test_no_warnings_on_clean_fit(biased_split):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(FairIFClassifier(), biased_split)


def test_auto_damping_for_linear_models(biased_split):
    # No damping on top of an L2 penalty; 1e-4 guards the unregularised case.
    clf = _fit(FairIFClassifier(), biased_split)
    assert clf.damping_ == 0.0
    unregularised = _fit(FairIFClassifier(LogisticRegression(C=np.inf)),
                         biased_split)
    assert unregularised.damping_ == 1e-4
    fixed = _fit(FairIFClassifier(damping=0.5), biased_split)
    assert fixed.damping_ == 0.5
    # Heavier damping shrinks the influences (H + lambda I grows).
    assert np.abs(fixed.influence_).sum() < np.abs(clf.influence_).sum()


@pytest.mark.parametrize("bias", ["group_size", "distribution_shift", "class_size"])
def test_default_lowers_test_aod_on_each_bias_type(bias):
    from sklearn_fairif.datasets import make_biased_classification, train_val_test_split

    X, y, s = make_biased_classification(3000, bias=bias, random_state=0)
    X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = train_val_test_split(
        X, y, s, random_state=0)
    clf = FairIFClassifier().fit(X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
    before = average_odds_difference(
        y_te, clf.initial_estimator_.predict(X_te), sensitive_features=s_te)
    after = average_odds_difference(y_te, clf.predict(X_te), sensitive_features=s_te)
    assert after < 0.7 * before, (before, after)


def test_default_lowers_test_aod_on_compas():
    from sklearn_fairif.datasets import load_compas, train_val_test_split
    from sklearn_fairif.utils import make_tabular_pipeline

    X, y, s = load_compas(return_X_y=True)
    before, after = [], []
    for seed in range(3):  # the mean over fixed seeds: one split is noisy here
        X_tr, X_val, X_te, y_tr, y_val, y_te, _, s_val, s_te = train_val_test_split(
            X, y, s, random_state=seed)
        clf = FairIFClassifier(make_tabular_pipeline()).fit(
            X_tr, y_tr, X_val=X_val, y_val=y_val, s_val=s_val)
        before.append(average_odds_difference(
            y_te, clf.initial_estimator_.predict(X_te), sensitive_features=s_te))
        after.append(average_odds_difference(
            y_te, clf.predict(X_te), sensitive_features=s_te))
    assert np.mean(after) < np.mean(before) - 0.01, (before, after)


# ------------------------------------------------- owner, service, logging
def test_user_solver_is_not_mutated(biased_split):
    from sklearn_fairif.influence import CGSolver, LissaSolver

    for solver in (CGSolver(tol=1e-8), LissaSolver(depth=50, random_state=0)):
        before = dict(vars(solver))
        clf = _fit(FairIFClassifier(solver=solver, damping=1e-3), biased_split)
        assert vars(solver) == before
        assert clf.solver_ is not solver
        assert clf.solver_.get_params() == solver.get_params()


def test_hessian_samples_reachable_from_the_estimator(biased_split):
    from sklearn_fairif.influence import CGSolver

    full = _fit(FairIFClassifier(solver=CGSolver(tol=1e-10)), biased_split)
    sub = _fit(FairIFClassifier(solver=CGSolver(tol=1e-10, hessian_samples=300)),
               biased_split)
    # A 300-row Hessian estimate moves the influence, but not its direction.
    assert not np.allclose(sub.influence_, full.influence_)
    r = np.corrcoef(sub.influence_[:, 0], full.influence_[:, 0])[0, 1]
    assert r > 0.9


def test_stage_records_are_structured_and_leave_no_handler(biased_split, caplog):
    import logging

    logger = logging.getLogger("sklearn_fairif")
    handlers = list(logger.handlers)
    with caplog.at_level(logging.INFO, logger="sklearn_fairif"):
        clf = _fit(FairIFClassifier(alpha=[0.1, 1.0], verbose=1), biased_split)
    events = [r.fairif for r in caplog.records if hasattr(r, "fairif")]
    stages = [e["stage"] for e in events if e["event"] == "stage_end"]
    assert stages.count("stage 2 (weighted refit)") == 2
    assert {e.get("alpha") for e in events if "alpha" in e} == {0.1, 1.0}
    assert all(e["estimator"] == "FairIF" for e in events)
    assert logger.handlers == handlers
    assert set(clf.stage_times_) == {"stage 1 (unweighted fit)", "influence",
                                     "weights", "stage 2 (weighted refit)"}
    pickle.dumps(clf)


def test_refit_without_validation_forgets_the_previous_fit(biased_split):
    clf = _fit(FairIFClassifier(), biased_split)
    assert hasattr(clf, "alpha_")
    clf.fit(*biased_split[:2])
    for name in ("alpha_", "influence_", "validation_gaps_", "cv_results_",
                 "damping_", "solver_", "constraint_names_"):
        assert not hasattr(clf, name), name
    assert_array_equal(clf.sample_weight_, np.ones(len(biased_split[1])))


def test_influence_estimator_refit_is_timed(biased_split):
    est = HistGradientBoostingClassifier(max_iter=5)
    clf = _fit(FairIFClassifier(est, alpha=[0.1, 1.0],
                                influence_estimator=LogisticRegression()),
               biased_split)
    assert clf.stage_times_["stage 2 (weighted refit)"] > 0
    assert clf.validation_gaps_["after"].shape == (2,)


# --------------------------------------------------------- warm refits, n_jobs
def test_warm_refits_equal_cold_ones_at_a_tight_tol(biased_split):
    est = LogisticRegression(tol=1e-10, max_iter=10_000)
    alphas = [0.01, 0.1, 1.0]
    warm = _fit(FairIFClassifier(est, alpha=alphas), biased_split)
    cold = _fit(FairIFClassifier(est, alpha=alphas, refit_start="initial"),
                biased_split)
    assert_allclose(warm.estimator_.coef_, cold.estimator_.coef_, rtol=1e-6)
    assert warm.alpha_ == cold.alpha_
    assert_allclose(warm.cv_results_["val_gap"], cold.cv_results_["val_gap"])
    # Started next to the answer, the refit needs fewer iterations.
    assert warm.estimator_.n_iter_[0] < cold.estimator_.n_iter_[0]
    assert est.get_params()["warm_start"] is False


def test_refit_starts_from_the_predicted_parameters(biased_split, monkeypatch):
    # The warm start is stage 1 moved by the first-order parameter shift of
    # the weights: closer than stage 1 itself, so fewer iterations, and the
    # same solution at a tight tol.
    import sklearn_fairif._fairif as fairif_module

    est = LogisticRegression(tol=1e-10, max_iter=10_000)
    predicted = _fit(FairIFClassifier(est, alpha=1.0), biased_split)
    monkeypatch.setattr(fairif_module, "parameter_shift",  # no shift: stage 1
                        lambda adapter, *a, **k: np.zeros(adapter.n_params))
    plain = _fit(FairIFClassifier(est, alpha=1.0), biased_split)
    assert_allclose(predicted.estimator_.coef_, plain.estimator_.coef_, rtol=1e-6)
    assert predicted.estimator_.n_iter_[0] < plain.estimator_.n_iter_[0]


def test_parallel_alpha_path_equals_serial(biased_split):
    alphas = [0.01, 0.1, 1.0]
    serial = _fit(FairIFClassifier(alpha=alphas, refit_start="initial"),
                  biased_split)
    parallel = _fit(FairIFClassifier(alpha=alphas, refit_start="initial",
                                     n_jobs=2), biased_split)
    assert_allclose(parallel.sample_weight_, serial.sample_weight_)
    assert_allclose(parallel.estimator_.coef_, serial.estimator_.coef_)
    assert parallel.cv_results_["alpha"] == alphas
    assert parallel.stage_times_["stage 2 (weighted refit)"] > 0
