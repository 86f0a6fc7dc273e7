"""Tests of the cross-fitted choice of alpha (alpha="auto")."""

import warnings

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.linear_model import LogisticRegression

from sklearn_fairif import FairIFClassifier
from sklearn_fairif._alpha import (
    DEFAULT_ALPHAS,
    EARLY_END_ROWS,
    PLATEAU_STEPS,
    SELECTION_TOL,
    CrossFitPlan,
    MarginShift,
    _alphas_per_pass,
    _ScanEnd,
    choose_alpha,
    first_within_budget,
    make_crossfit_plan,
    make_folds,
)
from sklearn_fairif._fairif import MAX_FINALIST_REFITS, _keeps
from sklearn_fairif._objectives import OBJECTIVES, FairnessConstraints
from sklearn_fairif._staging import ReweightedModel
from sklearn_fairif._weights import solve_weights
from sklearn_fairif.datasets import make_biased_classification
from sklearn_fairif.influence import (
    ExactSolver,
    compute_influence,
    influence_scores,
    parameter_shift,
)


def _labels(m=300, n_groups=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, m), rng.integers(0, n_groups, m)


# ------------------------------------------------------------------- folds
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_folds_hold_every_cell(objective):
    y, s = _labels(n_groups=3)
    folds = make_folds(objective, y, s, n_folds=5, random_state=0)
    assert folds.min() == 0 and folds.max() == 4
    for g in range(3):
        for label in (0, 1):
            cell = (s == g) & (y == label)
            # Stratified on group x label: every fold holds every cell.
            assert np.all(np.bincount(folds[cell], minlength=5) > 0)


def test_folds_fall_back_to_fewer_with_a_warning():
    y, s = _labels(m=200)
    # Group 1 has only 3 positives: at most 3 folds can each hold one.
    pos1 = np.flatnonzero((s == 1) & (y == 1))
    y[pos1[3:]] = 0
    with pytest.warns(UserWarning, match="3 folds are used instead of 5"):
        folds = make_folds("equalized_odds", y, s, n_folds=5, random_state=0)
    assert folds.max() + 1 == 3


@pytest.mark.parametrize("objective", ["accuracy_parity", "demographic_parity"])
def test_folds_of_whole_group_cells_fit_the_strata(objective):
    # Each group (the objective's cell) has 6 rows, but the group x label strata
    # only 3: StratifiedKFold refuses more folds than that.
    s, y = np.repeat([0, 1], 6), np.tile(np.repeat([0, 1], 3), 2)
    with pytest.warns(UserWarning, match="3 folds are used instead of 5"):
        folds = make_folds(objective, y, s, n_folds=5, random_state=0)
    for stratum in range(4):
        rows = (s == stratum // 2) & (y == stratum % 2)
        assert np.array_equal(np.sort(folds[rows]), [0, 1, 2])


def test_folds_give_up_with_a_clear_warning():
    y, s = _labels(m=100)
    y[(s == 1) & (y == 1)] = 0
    y[np.flatnonzero(s == 1)[0]] = 1  # one positive in group 1
    with pytest.warns(UserWarning, match="falling back to the default alpha"):
        assert make_folds("equal_opportunity", y, s, random_state=0) is None


def test_demographic_parity_needs_no_labels():
    _, s = _labels()
    plan = make_crossfit_plan("demographic_parity", None, s, random_state=0)
    assert plan.n_folds == 5 and not plan.has_utility
    assert plan.n_columns == 2 * 5  # one selection-rate cell per group x fold


def test_bad_arguments_raise():
    y, s = _labels()
    with pytest.raises(ValueError, match="objective"):
        make_crossfit_plan("nope", y, s)
    with pytest.raises(ValueError, match="n_folds"):
        make_crossfit_plan("equalized_odds", y, s, n_folds=1)
    plan = make_crossfit_plan("equalized_odds", y, s, random_state=0)
    with pytest.raises(ValueError, match="columns"):
        plan.select(np.zeros((10, 3)), np.zeros(3))


# ------------------------------------------- linear combinations of cells
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
@pytest.mark.parametrize("n_groups", [2, 3])
def test_fold_constraints_equal_directly_built_ones(objective, n_groups):
    """Cells combined = the estimator's constraints on the fold rows alone."""
    y, s = _labels(m=400, n_groups=n_groups, seed=1)
    y_val = None if objective == "demographic_parity" else y
    plan = make_crossfit_plan(objective, y_val, s, random_state=0,
                              temperature=0.7)
    z = np.random.default_rng(2).normal(size=len(s))
    cell_values = plan.constraints.values(z)[: plan.n_cells]
    cell_grads = plan.constraints.grad_margins(z)[:, : plan.n_cells]
    for fold_set in ([0], [1, 2, 3, 4], [0, 2]):
        rows = np.isin(plan.folds, fold_set)
        direct = FairnessConstraints(
            objective, None if y_val is None else y[rows], s[rows],
            temperature=0.7,
        )
        M = plan.constraint_matrix(fold_set)
        np.testing.assert_allclose(cell_values @ M, direct.values(z[rows]),
                                   atol=1e-12)
        # Gradients (hence influences) combine the same way.
        np.testing.assert_allclose((cell_grads @ M)[rows],
                                   direct.grad_margins(z[rows]), atol=1e-12)
        np.testing.assert_allclose((cell_grads @ M)[~rows], 0.0, atol=1e-15)


def test_margin_columns_track_a_random_subset_of_rows():
    y, s = _labels(m=500)
    plan = make_crossfit_plan("equalized_odds", y, s, random_state=0,
                              max_utility_rows=100)
    assert len(plan.utility_rows) == 100
    assert np.all(np.bincount(plan.folds[plan.utility_rows]) == 20)
    z = np.random.default_rng(3).normal(scale=3, size=len(s))
    values = plan.constraints.values(z)
    grads = plan.constraints.grad_margins(z)
    # Through a fake "influence" equal to the margin gradient, margins(...)
    # must return the margins and d z_j / d z_j = 1 (0 elsewhere).
    z_rec, dz = plan.margins(grads, values)
    np.testing.assert_array_equal(z_rec, z[plan.utility_rows])
    np.testing.assert_array_equal(dz[plan.utility_rows], np.eye(100))
    assert dz.sum() == 100
    # "auto": every row on small data, a budget on large training sets.
    assert len(make_crossfit_plan("equalized_odds", y, s).utility_rows) == 500
    big = make_crossfit_plan("equalized_odds", y, s, n_samples=10**6)
    assert len(big.utility_rows) == 300


def test_stack_puts_the_plan_after_the_estimator_constraints():
    y, s = _labels()
    plan = make_crossfit_plan("equalized_odds", y, s, random_state=0)
    main = FairnessConstraints("equalized_odds", y, s)
    stacked = plan.stack(main)
    z = np.random.default_rng(4).normal(size=len(s))
    assert stacked.n_constraints == main.n_constraints + plan.n_columns
    np.testing.assert_array_equal(stacked.values(z)[:2], main.values(z))
    np.testing.assert_array_equal(stacked.grad_margins(z)[:, 2:],
                                  plan.constraints.grad_margins(z))
    with pytest.raises(ValueError, match="validation rows"):
        plan.stack(FairnessConstraints("equalized_odds", y[:50], s[:50]))


# ------------------------------------------------------- selection rule
def test_choose_alpha_minimises_the_gap_within_tolerance():
    alphas = np.array([0.01, 0.1, 1.0])
    gap = np.array([[0.01, 0.02, 0.05], [0.01, 0.02, 0.05]])
    util = np.array([[-0.05, -0.005, 0.0], [-0.03, -0.001, 0.0]])
    change = np.array([[1.0, 0.1, 0.01]] * 2)
    sel = choose_alpha(alphas, gap, util, change, tol=0.01)
    assert sel.alpha == 0.1  # 0.01 closes more but costs 4 points
    assert list(sel.cv_results["admissible"]) == [False, True, True]
    np.testing.assert_allclose(sel.cv_results["heldout_gap"], [0.01, 0.02, 0.05])
    # The trust region alone excludes the large weight changes.
    sel = choose_alpha(alphas, gap, np.full_like(gap, np.nan), change, tol=0.01,
                       max_weight_change=0.05)
    assert sel.alpha == 1.0
    # Nothing admissible: the largest alpha (closest to unit weights).
    sel = choose_alpha(alphas, gap, util - 1, change, tol=0.01)
    assert sel.alpha == 1.0


def test_choose_alpha_breaks_ties_towards_larger_alpha():
    alphas = np.array([0.01, 0.1, 1.0])
    gap = np.array([[0.02, 0.02, 0.05]])
    sel = choose_alpha(alphas, gap, np.zeros((1, 3)), np.zeros((1, 3)), tol=0.01)
    assert sel.alpha == 0.1
    # Within 1% of the least gap is a tie; 1.5% above it is not.
    for second, chosen in [(0.0201, 0.1), (0.0203, 0.01)]:
        gap = np.array([[0.02, second, 0.05]])
        sel = choose_alpha(alphas, gap, np.zeros((1, 3)), np.zeros((1, 3)),
                           tol=0.01)
        assert sel.alpha == chosen


def _scan_length(gaps, utils, tol=0.01):
    """Candidates a _ScanEnd lets the scan evaluate, in scan order."""
    end = _ScanEnd(tol)
    for i, (gap, util) in enumerate(zip(gaps, utils, strict=True)):
        if end.reached(gap, util):
            return i + 1
    return len(gaps)


def test_the_scan_ends_after_a_plateau_of_the_admissible_gap():
    assert PLATEAU_STEPS == 3
    # From the largest alpha down: the gap falls, then stays for three
    # candidates; the scan ends at the third.
    gaps = [0.10, 0.06, 0.05, 0.05, 0.051, 0.05, 0.01, 0.0]
    assert _scan_length(gaps, [0.0] * 8) == 6
    # A lower gap that breaks the budget does not count as progress (the
    # plateau runs from 0.05), nor does one only as low as the best.
    utils = [0.0, 0.0, 0.0, -0.015, -0.015, -0.015, 0.0, 0.0]
    assert _scan_length([0.10, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01, 0.0],
                        utils) == 6
    # Every fall restarts the count: no end.
    assert _scan_length(list(np.linspace(0.1, 0.0, 8)), [0.0] * 8) == 8
    # Without labels (NaN accuracy) every candidate is admissible.
    assert _scan_length(gaps, [np.nan] * 8) == 6


def test_the_scan_goes_on_while_nothing_is_admissible():
    # However far below the budget and however flat the gap: a smaller alpha
    # may still gain (one flipped row of a small fold is a large drop).
    assert _scan_length([0.1] * 8, [-0.015] * 8) == 8
    assert _scan_length(list(np.linspace(0.1, 0.0, 8)),
                        [-0.05, -0.05, -0.05, 0.0, 0, 0, 0, 0]) == 8


def test_the_scan_goes_on_while_the_gap_has_only_risen():
    # A gap rising from the largest alpha down is no plateau: the weights
    # are still moving, and it may fall further on.
    assert _scan_length([0.10, 0.11, 0.12, 0.13, 0.14, 0.05, 0.04, 0.03],
                        [0.0] * 8) == 8
    # Once it has fallen, a plateau ends the scan as before.
    assert _scan_length([0.10, 0.11, 0.09, 0.12, 0.12, 0.12, 0.01, 0.0],
                        [0.0] * 8) == 6


def test_a_drop_of_exactly_tol_keeps_the_budget():
    # 6 of 600 rows: exactly 0.01, which plain floating point puts above it.
    assert 295 / 600 < 301 / 600 - 0.01
    assert _keeps(295 / 600, 301 / 600, 0.01)
    assert not _keeps(294 / 600, 301 / 600, 0.01)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 16])
def test_first_within_budget_finds_a_near_first_candidate(n):
    for first in range(n + 1):  # n: no candidate keeps the budget
        tried = []

        def within_budget(i, first=first, tried=tried):
            assert i not in tried and 0 <= i < n
            tried.append(i)
            return i >= first

        found = first_within_budget(n, within_budget, max_tries=4)
        assert len(tried) <= 4
        if first == n:
            assert found is None
        elif first <= 3:
            assert found == first  # one, two or four steps up, then bisected
        else:
            # The last try is the largest candidate: a budget kept only far
            # above the choice is still found.
            assert found == n - 1 and tried[-1] == n - 1


def test_first_within_budget_bisects_with_the_tries_left():
    tried = []
    found = first_within_budget(16, lambda i: tried.append(i) or i >= 5,
                                max_tries=5)
    assert found == 5 and tried == [0, 1, 3, 7, 5]


# ---------------------------------------------------------- integration
def _problem(seed=0, n=3000):
    X, y, s = make_biased_classification(n, bias="group_size", random_state=seed)
    cut = int(0.7 * n)
    return X[:cut], y[:cut], X[cut:], y[cut:], s[cut:]


def test_predicted_heldout_gaps_track_refits():
    X, y, X_val, y_val, s_val = _problem()
    plan = make_crossfit_plan("equalized_odds", y_val, s_val, random_state=0)
    model = ReweightedModel(LogisticRegression(), X, y, classes=np.unique(y),
                            sample_weight=np.ones(len(y)), X_val=X_val)
    fitted = model.fit()
    adapter = model.adapter(fitted)
    infl, vals = influence_scores(adapter, plan.constraints, X_val, ExactSolver(),
                                  damping=1e-4)
    predicted, refitted = [], []
    for k, (A_tr, g_tr, A_ho, g_ho, *_) in enumerate(plan.fold_problems(infl,
                                                                       vals)):
        held = plan.folds == k
        direct = FairnessConstraints("equalized_odds", y_val[held], s_val[held])
        for alpha in DEFAULT_ALPHAS[::3]:
            w = solve_weights(A_tr, g_tr, alpha)[0]
            refit = model.fit(w)
            predicted.extend(g_ho + (w - 1) @ A_ho)
            refitted.extend(direct.values(refit.decision_function(X_val[held])))
    assert pearsonr(predicted, refitted)[0] > 0.9


@pytest.mark.parametrize(("class_weight", "objective", "n_groups"), [
    (None, "equalized_odds", 2), ("balanced", "equalized_odds", 2),
    (None, "equalized_odds", 3), (None, "demographic_parity", 2)])
def test_margin_shift_selects_like_the_margin_columns(class_weight, objective,
                                                      n_groups):
    # The estimator predicts every held-out margin through one parameter
    # shift per batch of weight changes, and the held-out gaps from those
    # margins; the selection must equal the one made from the cells'
    # influence and one influence column per (every) validation row.
    X, y, X_val, y_val, s_val = _problem(seed=3)
    if n_groups == 3:
        s_val = np.where(np.random.default_rng(0).random(len(s_val)) < 0.3, 2,
                         s_val)
    if objective == "demographic_parity":
        y_val = None
    model = ReweightedModel(LogisticRegression(class_weight=class_weight), X, y,
                            classes=np.unique(y), sample_weight=np.ones(len(y)),
                            X_val=X_val)
    adapter = model.adapter(model.fit())
    columns = make_crossfit_plan(objective, y_val, s_val, random_state=0,
                                 max_utility_rows=len(s_val))
    dense = compute_influence(adapter, columns.constraints, X_val, "exact")
    ref = columns.select(dense.influence, dense.gaps)
    plan = make_crossfit_plan(objective, y_val, s_val, random_state=0,
                              margin_columns=False)
    # Its columns: each fold's train-side constraints, no cells (a cell per
    # rate, group and fold; a constraint per rate, or per rate and group).
    k = len(OBJECTIVES[objective]) * (1 if n_groups == 2 else n_groups)
    assert plan.n_columns == plan.n_folds * k
    assert plan.n_cells == plan.n_folds * n_groups * len(OBJECTIVES[objective])
    if y_val is not None:
        np.testing.assert_array_equal(plan.utility_rows, np.arange(len(y_val)))
    cells = compute_influence(adapter, plan.constraints, X_val, "exact")
    solver = cells.solver
    margins = MarginShift(adapter.decision_function(X_val), lambda D: adapter.logit_jvp(
        X_val, parameter_shift(adapter, solver, D, damping=cells.damping)))
    got = plan.select(cells.influence, cells.gaps, margin_influence=margins)
    assert got.alpha == ref.alpha
    for key, value in ref.cv_results.items():
        np.testing.assert_allclose(got.cv_results[key], value, rtol=1e-9,
                                   atol=1e-12, err_msg=key)
    assert np.nanmax(ref.cv_results["heldout_gap"]) - np.nanmin(
        ref.cv_results["heldout_gap"]) > 1e-4  # not a flat path
    with pytest.raises(ValueError, match="margin_influence"):
        plan.select(cells.influence, cells.gaps)
    with pytest.raises(ValueError, match="margin_influence"):
        columns.select(dense.influence, dense.gaps, margin_influence=margins)


def _shifted_plan(seed=1):
    """A plan without margin columns, its columns' influence and MarginShift."""
    X, y, X_val, y_val, s_val = _problem(seed=seed)
    model = ReweightedModel(LogisticRegression(), X, y, classes=np.unique(y),
                            sample_weight=np.ones(len(y)), X_val=X_val)
    adapter = model.adapter(model.fit())
    plan = make_crossfit_plan("equalized_odds", y_val, s_val, random_state=0,
                              margin_columns=False)
    cells = compute_influence(adapter, plan.constraints, X_val, "exact")
    margins = MarginShift(adapter.decision_function(X_val), lambda D: adapter.logit_jvp(
        X_val, parameter_shift(adapter, cells.solver, D, damping=cells.damping)))
    return (adapter, X_val, y_val, s_val), (plan, cells, margins)


def test_the_scan_ends_early_only_where_the_budget_is_worth_some_rows():
    # Below EARLY_END_ROWS validation rows' worth of accuracy, a row or two
    # decide admissibility: every candidate is scanned.
    _, (plan, cells, margins) = _shifted_plan()
    at = EARLY_END_ROWS / len(plan.folds)
    scanned = [np.isfinite(plan.predict_heldout(
        cells.influence, cells.gaps, DEFAULT_ALPHAS, tol=tol,
        margin_influence=margins)[0][0]).sum() for tol in (0.99 * at, at)]
    assert scanned[0] == len(DEFAULT_ALPHAS) > scanned[1]
    # Without labels no accuracy decides it: a plateau ends any scan.
    y_val, s_val = _labels(m=1000)
    no_labels = make_crossfit_plan("demographic_parity", None, s_val)
    assert no_labels._may_end_early(1e-9) and not no_labels._may_end_early(None)
    # A random subset of 300 tracked rows: its resolution, not the 1,000 rows'.
    subset = make_crossfit_plan("equalized_odds", y_val, s_val, n_samples=20_000)
    assert len(subset.utility_rows) == 300
    assert not subset._may_end_early(0.01) and subset._may_end_early(5 / 300)


def test_non_finite_heldout_predictions_raise():
    # Finite influence, but margins or their moves that overflow: one clear
    # error, not NaN gaps that every candidate then fails on.
    _, (plan, cells, margins) = _shifted_plan()
    overflowing = MarginShift(margins.z, lambda D: np.full(
        (len(margins.z), D.shape[1]), np.inf))
    with pytest.raises(ValueError, match="held-out predictions are not finite"):
        plan.select(cells.influence, cells.gaps, margin_influence=overflowing)
    X, y, X_val, y_val, s_val = _problem(seed=2)
    X_val = X_val.copy()
    X_val[:5] = 1e308
    with pytest.raises(ValueError, match=r"margins \(decision_function\) on X_val"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow
            FairIFClassifier(random_state=0).fit(X, y, X_val=X_val, y_val=y_val,
                                                 s_val=s_val)


def test_the_scan_does_not_depend_on_the_alphas_solved_together(monkeypatch):
    # Batches of 1, 3 or every alpha: other Newton starts and other points of
    # the early stop within a batch, the same predictions (to the solves'
    # tolerance) and the same alphas left unscanned. Small problems take the
    # most alphas per batch (the last setting: all of them).
    _, (plan, cells, margins) = _shifted_plan()
    results = []
    for per_pass in (1, 3, len(DEFAULT_ALPHAS)):
        monkeypatch.setattr("sklearn_fairif._alpha.ALPHAS_PER_PASS",
                            (per_pass, per_pass))
        results.append(plan.predict_heldout(
            cells.influence, cells.gaps, DEFAULT_ALPHAS, tol=0.01,
            margin_influence=margins))
    # A shift that solves column by column: one alpha per batch, whatever
    # the setting.
    per_column = MarginShift(margins.z, margins._shift, per_column=True)
    assert _alphas_per_pass(3000, plan.n_folds, per_column) == (1, 1)
    assert _alphas_per_pass(3000, plan.n_folds, margins) == (per_pass, per_pass)
    results.append(plan.predict_heldout(
        cells.influence, cells.gaps, DEFAULT_ALPHAS, tol=0.01,
        margin_influence=per_column))
    gap = results[0][0]
    assert 0 < np.isnan(gap[0]).sum() < len(DEFAULT_ALPHAS) - 2  # it stopped
    for other in results[1:]:
        for ref, got in zip(results[0], other, strict=True):
            # NaN where the other is: the same alphas left unscanned.
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=SELECTION_TOL)


@pytest.mark.parametrize("one_fold_per_pass", [False, True])
def test_heldout_predictions_equal_those_of_the_full_weights(one_fold_per_pass,
                                                            monkeypatch):
    # The scan never forms the weights: each solution is w - 1 = -B x + c
    # (c on the rows clipped at 0). Its held-out gaps, weight changes and
    # accuracy changes must equal those computed from the full weights,
    # whether the folds' bases share the margins' pass or not: checked with
    # the scan's solves as tight as the reference's, and at the selection's
    # own tolerance its gaps are within 1e-5 of them.
    if one_fold_per_pass:
        monkeypatch.setattr("sklearn_fairif._alpha.UTILITY_BUDGET", 1)
    (adapter, X_val, y_val, s_val), (plan, cells, margins) = _shifted_plan()
    alphas = DEFAULT_ALPHAS
    loose = plan.predict_heldout(cells.influence, cells.gaps, alphas,
                                 margin_influence=margins)
    monkeypatch.setattr("sklearn_fairif._alpha.SELECTION_TOL", 1e-12)
    gap, util, change = plan.predict_heldout(cells.influence, cells.gaps, alphas,
                                             margin_influence=margins)
    np.testing.assert_allclose(loose[0], gap, rtol=0, atol=1e-5)
    clipped = 0
    for k, (A_tr, g_tr, A_none, g_ho, z, yz) in enumerate(
            plan.fold_problems(cells.influence, cells.gaps, margins)):
        # The plan holds no held-out influence: computed here on the fold's
        # rows alone.
        assert A_none is None
        held = plan.folds == k
        direct = compute_influence(
            adapter, FairnessConstraints("equalized_odds", y_val[held],
                                         s_val[held]), X_val[held], "exact")
        A_ho = direct.influence
        np.testing.assert_allclose(g_ho, direct.gaps, atol=1e-12)
        sign = 2.0 * yz - 1.0
        for j, alpha in enumerate(alphas):
            d = solve_weights(A_tr, g_tr, alpha, tol=1e-12)[0] - 1.0
            clipped += np.sum(d == -1.0)
            np.testing.assert_allclose(gap[k, j],
                                       np.mean(np.abs(g_ho + d @ A_ho)),
                                       rtol=1e-7, atol=1e-10)
            np.testing.assert_allclose(change[k, j], np.mean(d**2), rtol=1e-7)
            z_new = z + margins.rmatmat(d[:, None])[0, plan.folds == k]
            expected = np.mean(sign * z_new > 0) - np.mean(sign * z > 0)
            assert util[k, j] == pytest.approx(expected, abs=1.5 / len(z))
    assert clipped > 50  # the sparse corrections were exercised


def test_auto_alpha_in_the_estimator():
    X, y, X_val, y_val, s_val = _problem(seed=1)
    clf = FairIFClassifier(alpha="auto", random_state=0)
    clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    res = clf.cv_results_
    assert clf.alpha_ in res["alpha"]
    assert len(res["heldout_gap"]) == len(DEFAULT_ALPHAS)
    assert clf.influence_.shape == (len(y), 2)  # the plan's columns stripped
    # ... and released: influence_ owns its data, no view of the stacked pass.
    assert clf.influence_.flags["OWNDATA"]
    j = list(res["alpha"]).index(clf.alpha_)
    assert res["admissible"][j]
    assert res["heldout_gap"][j] <= res["heldout_gap"][-1]
    # Closes the held-out gap the way the unweighted model does not.
    base = FairIFClassifier(alpha=10.0).fit(X, y, X_val=X_val, y_val=y_val,
                                            s_val=s_val)
    assert (np.abs(clf.validation_gaps_["after"]).mean()
            < np.abs(base.validation_gaps_["before"]).mean())


def test_auto_alpha_results_own_their_candidates():
    X, y, X_val, y_val, s_val = _problem(seed=1)
    fit = lambda: FairIFClassifier(random_state=0).fit(  # noqa: E731
        X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    first, second = fit(), fit()
    # Editing one fitted model's results reaches neither the other nor the
    # grid later fits scan.
    first.cv_results_["alpha"][:] = 1.0
    np.testing.assert_array_equal(second.cv_results_["alpha"], DEFAULT_ALPHAS)
    assert second.alpha_ in second.cv_results_["alpha"]
    assert fit().alpha_ == second.alpha_
    with pytest.raises(ValueError, match="read-only"):
        DEFAULT_ALPHAS[0] = 1.0


def test_auto_alpha_keeps_its_choice_when_the_refit_keeps_the_budget():
    X, y, X_val, y_val, s_val = _problem(seed=1)
    clf = FairIFClassifier(random_state=0).fit(X, y, X_val=X_val, y_val=y_val,
                                               s_val=s_val)
    res = clf.cv_results_
    refitted = np.flatnonzero(np.isfinite(res["val_accuracy_refitted"]))
    assert list(res["alpha"][refitted]) == [clf.alpha_]  # no finalist refit
    assert res["val_accuracy_chosen"] == pytest.approx(
        clf.estimator_.score(X_val, y_val))
    assert res["val_accuracy_chosen"] >= (
        clf.initial_estimator_.score(X_val, y_val) - clf.tol)


def _refits_lose_accuracy_below(monkeypatch, threshold, loss=0.5):
    """Make every refit at alpha < threshold score ``loss`` lower."""
    score = FairIFClassifier._score

    def penalised(entries, **kwargs):
        score(entries, **kwargs)
        for entry in entries:
            entry["accuracy"] -= loss * (entry["alpha"] < threshold)

    monkeypatch.setattr(FairIFClassifier, "_score", staticmethod(penalised))


def test_auto_alpha_moves_up_when_the_refit_breaks_the_budget(monkeypatch):
    X, y, X_val, y_val, s_val = _problem(seed=1)
    kw = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    predicted = FairIFClassifier(random_state=0).fit(X, y, **kw).alpha_
    # The first scanned candidate two steps above the choice keeps the budget.
    threshold = predicted * 4
    _refits_lose_accuracy_below(monkeypatch, threshold)
    clf = FairIFClassifier(random_state=0).fit(X, y, **kw)
    res = clf.cv_results_
    above = res["alpha"][res["alpha"] > predicted]
    assert len(above) >= 2
    assert clf.alpha_ == above[above >= threshold][0]
    refitted = res["alpha"][np.isfinite(res["val_accuracy_refitted"])]
    assert list(refitted) == [predicted, above[0], above[1]]
    # Each finalist is a real refit at its alpha: the same validation
    # accuracy as a fit at that fixed alpha (penalised likewise).
    for alpha in refitted:
        fixed = FairIFClassifier(alpha=float(alpha)).fit(X, y, **kw)
        expected = fixed.cv_results_["val_accuracy"][0]
        j = list(res["alpha"]).index(alpha)
        assert res["val_accuracy_refitted"][j] == pytest.approx(
            expected, abs=2 / len(y_val))
    assert res["val_accuracy_chosen"] == res["val_accuracy_refitted"][
        list(res["alpha"]).index(clf.alpha_)]
    assert clf.estimator_.score(X_val, y_val) == pytest.approx(
        res["val_accuracy_chosen"], abs=2 / len(y_val))


def test_auto_alpha_finds_a_budget_kept_only_far_above(monkeypatch):
    X, y, X_val, y_val, s_val = _problem(seed=3)
    kw = {"X_val": X_val, "y_val": y_val, "s_val": s_val}
    predicted = FairIFClassifier(random_state=0, tol=0.05).fit(X, y, **kw).alpha_
    largest = DEFAULT_ALPHAS[-1]
    above = DEFAULT_ALPHAS[DEFAULT_ALPHAS > predicted]
    assert len(above) > 4  # more candidates than finalist refits
    _refits_lose_accuracy_below(monkeypatch, largest)
    clf = FairIFClassifier(random_state=0, tol=0.05).fit(X, y, **kw)
    res = clf.cv_results_
    refitted = res["alpha"][np.isfinite(res["val_accuracy_refitted"])]
    # One, two and four steps up, then the largest.
    np.testing.assert_allclose(refitted, [predicted, *above[[0, 1, 3]], largest])
    assert clf.alpha_ == largest


def test_auto_alpha_warns_when_no_finalist_keeps_the_budget(monkeypatch):
    X, y, X_val, y_val, s_val = _problem(seed=1)
    _refits_lose_accuracy_below(monkeypatch, np.inf)
    clf = FairIFClassifier(random_state=0)
    with pytest.warns(UserWarning, match="every refitted candidate lost"):
        clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    res = clf.cv_results_
    refitted = np.isfinite(res["val_accuracy_refitted"])
    # The choice and at most MAX_FINALIST_REFITS more, the largest among them.
    assert 1 < refitted.sum() <= 1 + MAX_FINALIST_REFITS
    assert res["alpha"][refitted][-1] == res["alpha"][-1]
    best = np.nanmax(res["val_accuracy_refitted"])
    assert res["val_accuracy_chosen"] == best
    assert clf.alpha_ == res["alpha"][refitted][
        np.flatnonzero(res["val_accuracy_refitted"][refitted] == best)[-1]]


def _one_row_of_group_0(problem, n_group_1):
    """The problem with a validation set too small to cross-fit.

    One row of group 0, a positive, beside the first ``n_group_1`` rows of
    group 1: no two folds can both hold a group-0 positive.
    """
    X, y, X_val, y_val, s_val = problem
    keep = np.flatnonzero(s_val == 0)[:1].tolist() + np.flatnonzero(s_val == 1)[
        :n_group_1].tolist()
    X_val, y_val, s_val = X_val[keep], y_val[keep], s_val[keep]
    y_val[0] = 1
    return X, y, X_val, y_val, s_val


def test_auto_alpha_on_a_tiny_validation_set_falls_back():
    X, y, X_val, y_val, s_val = _one_row_of_group_0(_problem(n=2000), 40)
    clf = FairIFClassifier(alpha="auto", objective="equal_opportunity")
    with pytest.warns(UserWarning, match="falling back"):
        clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    _check_fallback_choice(clf, X_val, y_val)


def _check_fallback_choice(clf, X_val, y_val):
    """The fallback refits 0.3, and larger values only if 0.3 lost > tol."""
    res = clf.cv_results_
    alphas, accuracy = np.asarray(res["alpha"]), np.asarray(res["val_accuracy"])
    assert "heldout_gap" not in res and alphas[0] == 0.3
    assert np.all(np.diff(alphas) > 0)
    keeps = _keeps(accuracy, clf.initial_estimator_.score(X_val, y_val), clf.tol)
    if keeps[0]:
        assert list(alphas) == [0.3] and clf.alpha_ == 0.3
    else:  # the smallest refit that keeps the budget (else the most accurate)
        assert clf.alpha_ == (alphas[np.argmax(keeps)] if keeps.any()
                              else alphas[np.argmax(accuracy)])
    return res


def test_the_fallback_checks_its_refit():
    # 0.3 loses more than tol here: larger values are refitted.
    X, y, X_val, y_val, s_val = _one_row_of_group_0(_problem(seed=2), 60)
    with pytest.warns(UserWarning, match="falling back"):
        clf = FairIFClassifier(objective="equal_opportunity", tol=0.0).fit(
            X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    res = _check_fallback_choice(clf, X_val, y_val)
    assert len(res["alpha"]) > 1 and clf.alpha_ > 0.3


@pytest.mark.parametrize("objective", ["demographic_parity", "equal_opportunity"])
def test_auto_alpha_with_three_groups(objective):
    rng = np.random.default_rng(0)
    X, y, X_val, y_val, _ = _problem(seed=2)
    s_val = rng.integers(0, 3, len(y_val))
    clf = FairIFClassifier(alpha="auto", objective=objective, random_state=0)
    fit_y_val = None if objective == "demographic_parity" else y_val
    clf.fit(X, y, X_val=X_val, y_val=fit_y_val, s_val=s_val)
    assert clf.influence_.shape == (len(y), 3)  # one constraint per group
    assert clf.alpha_ in clf.cv_results_["alpha"]
    # Without labels there is no held-out accuracy to predict.
    no_labels = fit_y_val is None
    assert np.all(np.isnan(clf.cv_results_["heldout_utility_change"])) == no_labels


@pytest.mark.parametrize("objective", ["equalized_odds", "demographic_parity"])
def test_auto_with_cg_chooses_as_the_exact_solve(objective):
    # The CG route solves the folds' cells in a second, looser solve and the
    # candidates' parameter shifts by CG: the same choice and path as one
    # factorisation, and the fit's own influence at the solver's tolerance.
    from sklearn_fairif.influence import CGSolver

    X, y, X_val, y_val, s_val = _problem(seed=2)
    y_fit = None if objective == "demographic_parity" else y_val
    fits = {}
    for name, solver in (("exact", "exact"), ("cg", CGSolver(tol=1e-8))):
        fits[name] = FairIFClassifier(solver=solver, objective=objective,
                                      random_state=0).fit(
            X, y, X_val=X_val, y_val=y_fit, s_val=s_val)
    exact, cg = fits["exact"], fits["cg"]
    assert isinstance(cg.solver_, CGSolver) and cg.solver_.tol == 1e-8
    assert cg.alpha_ == exact.alpha_
    np.testing.assert_allclose(cg.influence_, exact.influence_, rtol=1e-5,
                               atol=1e-9 * np.abs(exact.influence_).max())
    np.testing.assert_allclose(cg.cv_results_["heldout_gap"],
                               exact.cv_results_["heldout_gap"], rtol=2e-2)
    np.testing.assert_array_equal(cg.cv_results_["admissible"],
                                  exact.cv_results_["admissible"])


def test_auto_with_lissa_cross_fits_too():
    # Any iterative solver takes the second-solve route; LiSSA's stochastic
    # iHVPs give held-out gaps along the path close to the exact ones.
    from sklearn_fairif.influence import LissaSolver

    X, y, X_val, y_val, s_val = _problem(seed=2)
    exact = FairIFClassifier(solver="exact", random_state=0).fit(
        X, y, X_val=X_val, y_val=y_val, s_val=s_val)
    lissa = FairIFClassifier(solver=LissaSolver(random_state=0),
                             random_state=0).fit(X, y, X_val=X_val, y_val=y_val,
                                                 s_val=s_val)
    assert isinstance(lissa.solver_, LissaSolver)
    both = ~np.isnan(exact.cv_results_["heldout_gap"]) & ~np.isnan(
        lissa.cv_results_["heldout_gap"])
    assert both.sum() >= 5
    assert pearsonr(exact.cv_results_["heldout_gap"][both],
                    lissa.cv_results_["heldout_gap"][both])[0] > 0.99


def _spy_per_column(monkeypatch):
    """Record whether each scan's margin shift solves column by column."""
    seen = []

    def spy(n_samples, n_folds, margin_influence):
        seen.append(margin_influence.per_column)
        return _alphas_per_pass(n_samples, n_folds, margin_influence)

    monkeypatch.setattr("sklearn_fairif._alpha._alphas_per_pass", spy)
    return seen


@pytest.mark.parametrize("pass_", ["fit", "selection"])
def test_auto_with_cg_stops_on_a_non_finite_pass_before_selecting(monkeypatch,
                                                                   pass_):
    # Each pass (the fit's own influence, then the selection's columns) is
    # checked before the selection reads it: one clear error, and no
    # selection warning computed from NaN predictions first.
    from sklearn_fairif.influence import CGSolver

    solve = CGSolver.solve
    calls = []

    def nan_on_one_pass(self, adapter, b, damping=0.0, progress=None):
        calls.append(None)
        u = solve(self, adapter, b, damping, progress)
        return u * np.nan if len(calls) == (1 if pass_ == "fit" else 2) else u

    monkeypatch.setattr(CGSolver, "solve", nan_on_one_pass)
    monkeypatch.setattr(CrossFitPlan, "select", lambda *a, **k: pytest.fail(
        "selected on a non-finite influence"))
    X, y, X_val, y_val, s_val = _problem(seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="influence is not finite"):
            FairIFClassifier(solver="cg", random_state=0).fit(
                X, y, X_val=X_val, y_val=y_val, s_val=s_val)


def test_auto_with_cg_leaves_the_users_solver_alone(monkeypatch):
    from sklearn_fairif.influence import CGSolver

    seen = _spy_per_column(monkeypatch)
    X, y, X_val, y_val, s_val = _problem(seed=2)
    solver = CGSolver(tol=1e-7)
    clf = FairIFClassifier(solver=solver).fit(X, y, X_val=X_val, y_val=y_val,
                                              s_val=s_val)
    # A linear model's CG multiplies every column in one data pass: the scan
    # keeps its batches of alphas.
    assert seen == [False]
    assert "heldout_gap" in clf.cv_results_
    assert solver.tol == 1e-7 and not hasattr(solver, "n_iter_")
    assert clf.solver_ is not solver and clf.solver_.tol == 1e-7


def test_auto_with_cg_and_no_transposed_hooks_uses_the_fallback(monkeypatch):
    # Without a parameter shift, each tracked row's margin would be one more
    # right-hand side of every CG iteration.
    from sklearn_fairif.adapters import LinearAdapter

    monkeypatch.delattr(LinearAdapter, "logit_jvp")
    X, y, X_val, y_val, s_val = _problem(seed=2)
    clf = FairIFClassifier(solver="cg").fit(X, y, X_val=X_val, y_val=y_val,
                                            s_val=s_val)
    _check_fallback_choice(clf, X_val, y_val)
    assert clf.influence_.shape == (len(y), 2)


def _fit_net_auto(hidden, **params):
    """FairIF(alpha="auto") on a one-hidden-layer skorch net; (clf, module)."""
    torch = pytest.importorskip("torch")
    skorch = pytest.importorskip("skorch")
    X, y, X_val, y_val, s_val = _problem(seed=4, n=2000)
    X, X_val = X.astype(np.float32), X_val.astype(np.float32)
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden),
                                 torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    net = skorch.NeuralNetBinaryClassifier(
        module, max_epochs=20, batch_size=128, train_split=None, verbose=0,
        optimizer=torch.optim.Adam, optimizer__lr=0.01,
        optimizer__weight_decay=1e-3)
    clf = FairIFClassifier(net, random_state=0, **params)
    clf.fit(X, y.astype(np.float32), X_val=X_val, y_val=y_val, s_val=s_val)
    return clf, module


def _assert_cross_fitted(clf):
    res = clf.cv_results_
    assert "heldout_gap" in res and clf.alpha_ in res["alpha"]
    assert res["admissible"][list(res["alpha"]).index(clf.alpha_)]
    assert (np.abs(clf.validation_gaps_["after"]).mean()
            < np.abs(clf.validation_gaps_["before"]).mean())


def test_auto_cross_fits_a_network_on_its_last_layer():
    clf, _ = _fit_net_auto(16, influence_params="last_layer")
    # 17 head parameters: an exact solve, so the selection is cross-fitted.
    assert clf.solver_.__class__.__name__ == "ExactSolver"
    _assert_cross_fitted(clf)


def test_auto_cross_fits_a_network_over_every_parameter_by_cg(monkeypatch):
    seen = _spy_per_column(monkeypatch)
    clf, module = _fit_net_auto(96)
    # More than 1024 influence parameters: CG, and still cross-fitted.
    assert sum(p.numel() for p in module.parameters()) > 1024
    assert clf.solver_.__class__.__name__ == "CGSolver"
    _assert_cross_fitted(clf)
    # On the CPU each column of the net's Hessian products is its own double
    # backward: one alpha per batch.
    assert seen == [True]
