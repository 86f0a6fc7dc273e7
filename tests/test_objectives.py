"""Soft fairness constraints checked against hand computations and fairlearn.

Every expected value here is computed directly from its definition (per-group
means of sigmoid(+-z / tau) over the relevant validation cells), never with the
library's V / T matrices.
"""

import fairlearn.metrics as flm
import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import accuracy_score

from sklearn_fairif._objectives import FairnessConstraints, stack_constraints

# objective -> list of (rate name, cell of rows it averages over, per-row soft
# indicator as a function of (z, y, tau)).
HAND_RATES = {
    "tpr": (lambda y: y == 1, lambda z, y, tau: expit(z / tau)),
    "tnr": (lambda y: y == 0, lambda z, y, tau: expit(-z / tau)),
    "accuracy": (
        lambda y: np.ones(len(y), dtype=bool),
        lambda z, y, tau: np.where(y == 1, expit(z / tau), expit(-z / tau)),
    ),
    "selection_rate": (
        lambda y: np.ones(len(y), dtype=bool),
        lambda z, y, tau: expit(z / tau),
    ),
}
OBJECTIVE_RATES = {
    "equalized_odds": ["tpr", "tnr"],
    "equal_opportunity": ["tpr"],
    "accuracy_parity": ["accuracy"],
    "error_rate_parity": ["accuracy"],
    "demographic_parity": ["selection_rate"],
}
FAIRLEARN_RATES = {
    "tpr": flm.true_positive_rate,
    "tnr": flm.true_negative_rate,
    "accuracy": accuracy_score,
    "selection_rate": flm.selection_rate,
}


def _case(seed, m=300, groups=("a", "b")):
    rng = np.random.default_rng(seed)
    s = rng.choice(np.array(groups), size=m)
    # Make sure every group/class cell is populated.
    s[: 2 * len(groups)] = np.repeat(np.array(groups), 2)
    y = rng.integers(0, 2, size=m)
    y[: 2 * len(groups)] = np.tile([0, 1], len(groups))
    z = rng.normal(scale=2.0, size=m) + 0.5 * (y - 0.5)
    return z, y, s


def _hand_values(objective, z, y, s, tau):
    """Expected constraints and names, straight from the definition."""
    groups = sorted(np.unique(s))
    values, names = [], []
    for rate in OBJECTIVE_RATES[objective]:
        cell_of, soft_of = HAND_RATES[rate]
        cell = cell_of(y)
        soft = soft_of(z, y, tau)
        per_group = {}
        for g in groups:
            rows = cell & (s == g)
            per_group[g] = soft[rows].sum() / rows.sum()
        if len(groups) == 2:
            values.append(per_group[groups[0]] - per_group[groups[1]])
            names.append(f"{rate}[{groups[0]}] - {rate}[{groups[1]}]")
        else:
            overall = soft[cell].sum() / cell.sum()
            for g in groups:
                values.append(per_group[g] - overall)
                names.append(f"{rate}[{g}] - {rate}[all]")
    return np.array(values), names


def _hand_hard_values(objective, y_pred, y, s):
    """Expected hard constraints from fairlearn's MetricFrame."""
    groups = sorted(np.unique(s))
    values = []
    for rate in OBJECTIVE_RATES[objective]:
        frame = flm.MetricFrame(
            metrics=FAIRLEARN_RATES[rate], y_true=y, y_pred=y_pred,
            sensitive_features=s,
        )
        by_group = frame.by_group
        if len(groups) == 2:
            values.append(by_group[groups[0]] - by_group[groups[1]])
        else:
            # fairlearn's overall TPR is over all positives, i.e. the
            # validation-wide rate each group is compared with.
            values.extend(by_group[g] - frame.overall for g in groups)
    return np.array(values, dtype=float)


OBJECTIVES = list(OBJECTIVE_RATES)
GROUPS = [("a", "b"), ("a", "b", "c"), ("g0", "g1", "g2", "g3")]


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("groups", GROUPS, ids=lambda g: f"{len(g)}groups")
@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_soft_values_match_hand_computation(objective, groups, tau):
    z, y, s = _case(0, groups=groups)
    fc = FairnessConstraints(objective, y, s, temperature=tau)
    expected, names = _hand_values(objective, z, y, s, tau)
    assert fc.names == names
    assert fc.n_constraints == len(expected)
    np.testing.assert_allclose(fc.values(z), expected, rtol=1e-12, atol=1e-14)


def test_two_group_sign_is_group0_minus_group1():
    # Group "a" is predicted positive everywhere, "b" negative: tpr gap > 0.
    y = np.array([1, 1, 0, 1, 1, 0])
    s = np.array(["a", "a", "a", "b", "b", "b"])
    z = np.array([20.0, 20.0, 20.0, -20.0, -20.0, -20.0])
    fc = FairnessConstraints("equalized_odds", y, s)
    tpr_gap, tnr_gap = fc.values(z)
    assert tpr_gap == pytest.approx(1.0, abs=1e-8)
    assert tnr_gap == pytest.approx(-1.0, abs=1e-8)


def test_rates_are_means_not_sums():
    # Group "a" has 1 positive, group "b" has 9; identical margins must give a
    # zero TPR gap (a sum would give a gap of -8 * sigmoid(z)).
    y = np.array([1, 0] + [1] * 9 + [0])
    s = np.array(["a", "a"] + ["b"] * 10)
    z = np.full(len(y), 0.7)
    fc = FairnessConstraints("equal_opportunity", y, s)
    np.testing.assert_allclose(fc.values(z), [0.0], atol=1e-15)


def test_demographic_parity_needs_no_labels():
    z, y, s = _case(3)
    with_labels = FairnessConstraints("demographic_parity", y, s).values(z)
    without = FairnessConstraints("demographic_parity", None, s).values(z)
    expected, _ = _hand_values("demographic_parity", z, y, s, 1.0)
    np.testing.assert_allclose(without, expected, rtol=1e-12)
    np.testing.assert_allclose(with_labels, expected, rtol=1e-12)


@pytest.mark.parametrize("surrogate", ["softmax", "gumbel"])
def test_stacked_sets_keep_each_sets_signs_and_temperature(surrogate):
    # The sigmoids are computed once per sign column (one per rate); a stack
    # renumbers its members' sign columns: 2 + 1 + 1 here, at 3 temperatures.
    z, y, s = _case(2, groups=("a", "b", "c"))
    members = [
        FairnessConstraints("equalized_odds", y, s, surrogate=surrogate,
                            random_state=0),
        FairnessConstraints("accuracy_parity", y, s, temperature=0.5,
                            surrogate=surrogate, random_state=0),
        FairnessConstraints("demographic_parity", None, s, temperature=2.0,
                            surrogate=surrogate, random_state=0),
    ]
    stacked = stack_constraints(*members)
    assert stacked.signs.shape[1] == 4
    # One seed: every member drew the first one's Gumbel noise.
    np.testing.assert_allclose(
        stacked.values(z), np.concatenate([c.values(z) for c in members]),
        rtol=1e-12)
    np.testing.assert_allclose(
        stacked.grad_margins(z), np.hstack([c.grad_margins(z) for c in members]),
        rtol=1e-12)
    y_pred = (z > 0).astype(int)
    np.testing.assert_array_equal(
        stacked.hard_values(y_pred),
        np.concatenate([c.hard_values(y_pred) for c in members]))
    if surrogate == "softmax":
        # Each column's values at its own temperature, by the definition.
        expected = np.concatenate([
            _hand_values(objective, z, y, s, tau)[0] for objective, tau in
            [("equalized_odds", 1.0), ("accuracy_parity", 0.5),
             ("demographic_parity", 2.0)]])
        np.testing.assert_allclose(stacked.values(z), expected, rtol=1e-12,
                                   atol=1e-14)


def _central_fd_jacobian(fun, z, h):
    m = len(z)
    cols = []
    for j in range(m):
        e = np.zeros(m)
        e[j] = h
        cols.append((fun(z + e) - fun(z - e)) / (2 * h))
    return np.array(cols)  # (m, k)


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("groups", GROUPS[:2], ids=lambda g: f"{len(g)}groups")
@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_grad_margins_matches_central_differences(objective, groups, tau):
    z, y, s = _case(1, m=80, groups=groups)
    fc = FairnessConstraints(objective, y, s, temperature=tau)
    # FD of the hand-computed values: independent of the library's formulas.
    fd = _central_fd_jacobian(
        lambda zz: _hand_values(objective, zz, y, s, tau)[0], z, 1e-5
    )
    grad = fc.grad_margins(z)
    assert grad.shape == fd.shape
    err = np.abs(grad - fd).max() / np.abs(fd).max()
    assert err < 1e-7, f"relative FD error {err:.2e}"


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("groups", GROUPS, ids=lambda g: f"{len(g)}groups")
def test_hard_values_match_fairlearn(objective, groups):
    z, y, s = _case(2, groups=groups)
    rng = np.random.default_rng(5)
    y_pred = rng.integers(0, 2, size=len(y))
    fc = FairnessConstraints(objective, y, s)
    np.testing.assert_allclose(
        fc.hard_values(y_pred), _hand_hard_values(objective, y_pred, y, s),
        rtol=1e-12, atol=1e-14,
    )


def test_hard_values_hand_made_case():
    # a: positives predicted (1, 0) -> TPR 1/2; negatives predicted (0, 0, 1)
    #    -> TNR 2/3.  b: positives (1, 1, 1) -> TPR 1; negative (1) -> TNR 0.
    y = np.array([1, 1, 0, 0, 0, 1, 1, 1, 0])
    y_pred = np.array([1, 0, 0, 0, 1, 1, 1, 1, 1])
    s = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    fc = FairnessConstraints("equalized_odds", y, s)
    np.testing.assert_allclose(fc.hard_values(y_pred), [0.5 - 1.0, 2 / 3 - 0.0])
    acc = FairnessConstraints("accuracy_parity", y, s).hard_values(y_pred)
    np.testing.assert_allclose(acc, [3 / 5 - 3 / 4])
    dp = FairnessConstraints("demographic_parity", None, s).hard_values(y_pred)
    np.testing.assert_allclose(dp, [2 / 5 - 4 / 4])


@pytest.mark.parametrize("objective", ["equalized_odds", "equal_opportunity"])
@pytest.mark.parametrize("n_groups", [2, 3])
def test_group_without_positives_raises_naming_the_group(objective, n_groups):
    z, y, s = _case(4, groups=("a", "b", "c")[:n_groups])
    s = s.astype(object)
    s[(s == "b") & (y == 1)] = "a"  # group b keeps only negatives
    with pytest.raises(ValueError, match=r"'b'.*positive"):
        FairnessConstraints(objective, y, s)


def test_group_without_negatives_raises_for_tnr():
    z, y, s = _case(4)
    s = s.astype(object)
    s[(s == "a") & (y == 0)] = "b"
    with pytest.raises(ValueError, match=r"'a'.*negative"):
        FairnessConstraints("equalized_odds", y, s)
    # TPR alone and accuracy are still defined for that group.
    FairnessConstraints("equal_opportunity", y, s)
    FairnessConstraints("accuracy_parity", y, s)


def test_accuracy_parity_defined_without_positives_in_a_group():
    z, y, s = _case(6)
    s = s.astype(object)
    s[(s == "b") & (y == 1)] = "a"
    fc = FairnessConstraints("accuracy_parity", y, s)
    expected, _ = _hand_values("accuracy_parity", z, y, s, 1.0)
    np.testing.assert_allclose(fc.values(z), expected, rtol=1e-12)


# ---------------------------------------------------------------- gumbel
def _logistic_expectation(z, tau, sign):
    """E[sigmoid(sign * (z + L) / tau)] for L ~ Logistic(0, 1), by quadrature."""
    u = (np.arange(2000)[:, None] + 0.5) / 2000  # midpoint rule on the CDF
    noise = np.log(u / (1 - u))  # inverse CDF of the logistic distribution
    return expit(sign * (z[None, :] + noise) / tau).mean(axis=0)


@pytest.mark.parametrize("objective", ["equalized_odds", "demographic_parity"])
def test_gumbel_deterministic_for_fixed_random_state(objective):
    z, y, s = _case(7)
    a = FairnessConstraints(objective, y, s, surrogate="gumbel", random_state=0)
    b = FairnessConstraints(objective, y, s, surrogate="gumbel", random_state=0)
    c = FairnessConstraints(objective, y, s, surrogate="gumbel", random_state=1)
    np.testing.assert_array_equal(a.values(z), b.values(z))
    np.testing.assert_array_equal(a.grad_margins(z), b.grad_margins(z))
    # Repeated evaluations of one instance see the same noise.
    np.testing.assert_array_equal(a.values(z), a.values(z))
    assert not np.allclose(a.values(z), c.values(z), rtol=0, atol=1e-12)


@pytest.mark.parametrize("tau", [0.5, 1.0])
def test_gumbel_gradient_matches_fd_of_its_own_values(tau):
    z, y, s = _case(8, m=60)
    fc = FairnessConstraints(
        "equalized_odds", y, s, temperature=tau, surrogate="gumbel", random_state=3
    )
    fd = _central_fd_jacobian(fc.values, z, 1e-5)
    grad = fc.grad_margins(z)
    err = np.abs(grad - fd).max() / np.abs(fd).max()
    assert err < 1e-7, f"relative FD error {err:.2e}"


def test_gumbel_values_are_unbiased_logistic_noise_averages():
    # Each soft indicator is sigmoid(+-(z + L) / tau) with L the difference of
    # two Gumbel draws (logistic); averaged over draws and rows, the group rates
    # must match the exact expectation within sampling error.
    tau = 1.0
    z, y, s = _case(9, m=2000)
    # Confident margins in group "a", uncertain ones in "b": the noise moves
    # the two groups' rates by different amounts.
    z = np.where(s == "a", 3.0 * (2 * y - 1), 0.3 * (2 * y - 1)) + 0.3 * z
    fc = FairnessConstraints(
        "equalized_odds", y, s, temperature=tau, surrogate="gumbel", random_state=0
    )
    groups = sorted(np.unique(s))
    expected = []
    for cell, sign in ((y == 1, 1.0), (y == 0, -1.0)):
        ev = _logistic_expectation(z, tau, sign)
        rate = [ev[cell & (s == g)].mean() for g in groups]
        expected.append(rate[0] - rate[1])
    # sd of a group rate (~500 rows x 32 draws of [0, 1] values) is < 0.005;
    # the softmax (noise-free) value is far from the expectation.
    np.testing.assert_allclose(fc.values(z), expected, atol=0.012)
    softmax = FairnessConstraints("equalized_odds", y, s, temperature=tau)
    assert np.abs(softmax.values(z) - np.array(expected)).min() > 0.03
