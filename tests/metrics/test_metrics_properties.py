"""Property-based tests of the metrics: equal to fairlearn, and invariances."""

import warnings

import fairlearn.metrics as flm
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_fairif.metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    fairness_report,
)

SETTINGS = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

OURS_VS_FAIRLEARN = [
    (accuracy_difference, flm.accuracy_score_difference, {}),
    (average_odds_difference, flm.equalized_odds_difference, {"agg": "mean"}),
    (equal_opportunity_difference, flm.equal_opportunity_difference, {}),
    (demographic_parity_difference, flm.demographic_parity_difference, {}),
]


@st.composite
def samples(draw, weighted=False):
    n = draw(st.integers(4, 60))
    n_groups = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    y_pred = rng.integers(0, 2, n)
    groups = rng.integers(0, n_groups, n)
    groups[:n_groups] = np.arange(n_groups)  # every group present
    weight = rng.uniform(0.1, 3.0, n) if weighted else None
    return y_true, y_pred, groups, weight


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.mark.parametrize("ours, theirs, extra", OURS_VS_FAIRLEARN,
                         ids=lambda v: getattr(v, "__name__", ""))
@SETTINGS
@given(data=samples(weighted=True))
def test_equals_fairlearn(ours, theirs, extra, data):
    y_true, y_pred, groups, weight = data
    for method in ("between_groups", "to_overall"):
        expected = _quiet(theirs, y_true, y_pred, sensitive_features=groups,
                          method=method, sample_weight=weight, **extra)
        got = _quiet(ours, y_true, y_pred, sensitive_features=groups,
                     method=method, sample_weight=weight)
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", [f for f, _, _ in OURS_VS_FAIRLEARN],
                         ids=lambda f: f.__name__)
@SETTINGS
@given(data=samples(weighted=True), scale=st.sampled_from([0.01, 3.0, 1e6]))
def test_invariances(metric, data, scale):
    y_true, y_pred, groups, weight = data
    base = _quiet(metric, y_true, y_pred, sensitive_features=groups,
                  sample_weight=weight)
    assert 0.0 <= base <= 1.0
    # Scaling every weight changes nothing.
    scaled = _quiet(metric, y_true, y_pred, sensitive_features=groups,
                    sample_weight=weight * scale)
    assert scaled == pytest.approx(base, abs=1e-9)
    # Nor does renaming the groups, or permuting the rows.
    names = np.array(["g0", "g1", "g2", "g3"])[groups]
    renamed = _quiet(metric, y_true, y_pred, sensitive_features=names,
                     sample_weight=weight)
    assert renamed == pytest.approx(base, abs=1e-12)
    order = np.random.default_rng(0).permutation(len(y_true))
    permuted = _quiet(metric, y_true[order], y_pred[order],
                      sensitive_features=groups[order], sample_weight=weight[order])
    assert permuted == pytest.approx(base, abs=1e-12)
    # Nor does encoding the classes as other labels with the same order (a
    # single string label is ambiguous by design, see _positive_label).
    if np.unique(np.r_[y_true, y_pred]).size < 2:
        return
    relabelled = _quiet(metric, np.where(y_true, "yes", "no"),
                        np.where(y_pred, "yes", "no"), sensitive_features=groups,
                        sample_weight=weight)
    assert relabelled == pytest.approx(base, abs=1e-12)


@pytest.mark.parametrize("metric", [f for f, _, _ in OURS_VS_FAIRLEARN],
                         ids=lambda f: f.__name__)
@SETTINGS
@given(data=samples(), repeat=st.integers(2, 4))
def test_integer_weights_equal_repeated_rows(metric, data, repeat):
    y_true, y_pred, groups, _ = data
    weight = np.full(len(y_true), float(repeat))
    weight[0] = 1.0
    weighted = _quiet(metric, y_true, y_pred, sensitive_features=groups,
                      sample_weight=weight)
    reps = weight.astype(int)
    repeated = _quiet(metric, np.repeat(y_true, reps), np.repeat(y_pred, reps),
                      sensitive_features=np.repeat(groups, reps))
    assert weighted == pytest.approx(repeated, abs=1e-12)


@SETTINGS
@given(data=samples(weighted=True))
def test_report_differences_equal_functions(data):
    y_true, y_pred, groups, weight = data
    report = _quiet(fairness_report, y_true, y_pred, sensitive_features=groups,
                    sample_weight=weight)
    for metric, _, _ in OURS_VS_FAIRLEARN:
        expected = _quiet(metric, y_true, y_pred, sensitive_features=groups,
                          sample_weight=weight)
        assert report.attrs["differences"][metric.__name__] == pytest.approx(
            expected, abs=1e-12)
    assert report["count"].iloc[-1] == len(y_true)
