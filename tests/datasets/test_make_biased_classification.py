"""Tests of make_biased_classification."""

import numpy as np
import pytest
from fairlearn.metrics import equalized_odds_difference
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from sklearn_fairif.datasets import make_biased_classification, train_val_test_split

BIASES = ["group_size", "distribution_shift", "class_size", None]

# Expected shares of the cells (s, y) = (0, 0), (0, 1), (1, 0), (1, 1).
SHARES = {
    "group_size": [0.075, 0.075, 0.425, 0.425],
    "distribution_shift": [0.425, 0.075, 0.075, 0.425],
    "class_size": [0.4, 0.1, 0.4, 0.1],
    None: [0.25, 0.25, 0.25, 0.25],
}


def _cells(y, s):
    return np.bincount(2 * s + y, minlength=4)


def average_odds_difference(y_true, y_pred, s):
    """0.5 * (|TPR_0 - TPR_1| + |TNR_0 - TNR_1|), written out."""
    gaps = []
    for label in (1, 0):
        rates = [np.mean(y_pred[(s == g) & (y_true == label)] == label) for g in (0, 1)]
        gaps.append(abs(rates[0] - rates[1]))
    return 0.5 * sum(gaps)


def _erm_and_reweighted_aod(bias, n_samples=5000, random_state=0, **params):
    """Test-set AOD of a logistic regression, unweighted and cell-balanced."""
    X, y, s = make_biased_classification(
        n_samples, bias=bias, random_state=random_state, **params
    )
    X_tr, _, X_te, y_tr, _, y_te, s_tr, _, s_te = train_val_test_split(
        X, y, s, random_state=random_state
    )
    erm = LogisticRegression().fit(X_tr, y_tr)
    cells = 2 * s_tr + y_tr
    weights = (len(cells) / 4 / np.bincount(cells))[cells]
    reweighted = LogisticRegression().fit(X_tr, y_tr, sample_weight=weights)
    return (
        average_odds_difference(y_te, erm.predict(X_te), s_te),
        average_odds_difference(y_te, reweighted.predict(X_te), s_te),
    )


@pytest.mark.parametrize("bias", BIASES)
def test_shapes_and_dtypes(bias):
    X, y, s = make_biased_classification(200, bias=bias, n_features=5, random_state=0)
    assert X.shape == (200, 5) and X.dtype == np.float64
    assert y.shape == s.shape == (200,)
    assert y.dtype == s.dtype == np.int64
    assert set(np.unique(y)) == set(np.unique(s)) == {0, 1}
    assert np.isfinite(X).all()


@pytest.mark.parametrize("bias", BIASES)
def test_cell_counts_are_exact(bias):
    _, y, s = make_biased_classification(1000, bias=bias, random_state=0)
    np.testing.assert_array_equal(_cells(y, s), np.multiply(SHARES[bias], 1000))


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("n_samples", [1, 7, 999, 1234])
def test_cell_counts_round_to_the_nearest_row(bias, n_samples):
    _, y, s = make_biased_classification(n_samples, bias=bias, random_state=0)
    counts = _cells(y, s)
    assert counts.sum() == n_samples
    assert np.abs(counts - np.multiply(SHARES[bias], n_samples)).max() < 1


def test_bias_type_proportions():
    # The headline proportions of each bias type.
    _, y, s = make_biased_classification(2000, bias="group_size", random_state=0)
    assert np.mean(s == 0) == pytest.approx(0.15)
    _, y, s = make_biased_classification(2000, bias="distribution_shift")
    assert np.mean(s[y == 0] == 0) == pytest.approx(0.85)
    assert np.mean(s[y == 1] == 1) == pytest.approx(0.85)
    _, y, s = make_biased_classification(2000, bias="class_size")
    assert np.sum(y == 1) / np.sum(y == 0) == pytest.approx(0.25)
    assert np.mean(s == 0) == pytest.approx(0.5)


def test_rows_are_shuffled():
    _, y, s = make_biased_classification(1000, bias=None, random_state=0)
    assert 0.3 < np.mean(s[:100]) < 0.7 and 0.3 < np.mean(y[:100]) < 0.7


def test_random_state_determinism():
    first = make_biased_classification(300, bias="class_size", random_state=7)
    again = make_biased_classification(
        300, bias="class_size", random_state=np.random.RandomState(7)
    )
    other = make_biased_classification(300, bias="class_size", random_state=8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[2], other[2])


def test_group_is_hidden_but_partly_predictable():
    X, y, s = make_biased_classification(4000, bias=None, random_state=0)
    assert not any(np.array_equal(X[:, j], s) for j in range(X.shape[1]))
    accuracy = cross_val_score(LogisticRegression(), X, s).mean()
    assert 0.65 < accuracy < 0.95
    X, y, s = make_biased_classification(4000, bias=None, group_sep=0, random_state=0)
    # Without the offset of feature 2 a linear model cannot tell the groups.
    assert cross_val_score(LogisticRegression(), X, s).mean() < 0.56


def test_feature_layout():
    X, y, s = make_biased_classification(20000, bias=None, random_state=0)
    # Feature 0 separates the classes in both groups; feature 1 with opposite
    # signs; feature 2 the groups; the rest is noise.
    for g in (0, 1):
        rows = s == g
        diff = X[rows & (y == 1)].mean(0) - X[rows & (y == 0)].mean(0)
        assert diff[0] > 0.4
        assert np.abs(diff[3:]).max() < 0.1
        assert (diff[1] > 0) == (g == 0)
    assert X[s == 1, 2].mean() - X[s == 0, 2].mean() == pytest.approx(1.5, abs=0.05)
    assert X[:, 3:].std() == pytest.approx(1.0, abs=0.02)


def test_hand_written_aod_matches_fairlearn():
    rng = np.random.RandomState(0)
    y, y_pred, s = (rng.randint(2, size=500) for _ in range(3))
    assert average_odds_difference(y, y_pred, s) == pytest.approx(
        equalized_odds_difference(y, y_pred, sensitive_features=s, agg="mean")
    )


@pytest.mark.parametrize("random_state", [0, 1])
@pytest.mark.parametrize("bias", ["group_size", "distribution_shift", "class_size"])
def test_erm_is_unfair_on_5000_samples(bias, random_state):
    erm, reweighted = _erm_and_reweighted_aod(bias, random_state=random_state)
    assert erm >= 0.05
    assert reweighted < erm


@pytest.mark.parametrize("bias", ["group_size", "distribution_shift", "class_size"])
def test_cell_reweighting_removes_most_of_the_gap(bias):
    # 20000 rows make the test-set estimate of the gap precise.
    erm, reweighted = _erm_and_reweighted_aod(bias, n_samples=20000)
    assert erm >= 0.1
    assert reweighted < erm / 2


def test_no_bias_is_nearly_fair():
    erm, _ = _erm_and_reweighted_aod(None, n_samples=20000)
    assert erm < 0.05


def test_same_geometry_for_both_groups_is_fair():
    # With one boundary for both groups, the group-size bias does no harm: the
    # unfairness above comes from the groups' different boundaries.
    erm, _ = _erm_and_reweighted_aod(
        "group_size", n_samples=20000, angle=0, group_scale=1
    )
    assert erm < 0.05


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"bias": "label"}, ValueError, "bias should be one of"),
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 10.0}, TypeError, "n_samples"),
        ({"n_features": 2}, ValueError, "n_features"),
        ({"class_sep": -1}, ValueError, "class_sep"),
        ({"group_sep": -1}, ValueError, "group_sep"),
        ({"angle": 181}, ValueError, "angle"),
        ({"group_scale": 0}, ValueError, "group_scale"),
    ],
)
def test_invalid_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_biased_classification(**kwargs)
