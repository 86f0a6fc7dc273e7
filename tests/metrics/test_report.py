import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score

from sklearn_fairif.metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
    fairness_report,
)

COLUMNS = ["count", "accuracy", "tpr", "tnr", "selection_rate"]
DIFFERENCES = {
    "accuracy_difference": accuracy_difference,
    "average_odds_difference": average_odds_difference,
    "equal_opportunity_difference": equal_opportunity_difference,
    "demographic_parity_difference": demographic_parity_difference,
}

# Same hand-computed case as in test_metrics.py:
#            count  accuracy  tpr   tnr   selection_rate
#   a          4     3/4      2/3   1     2/4
#   b          4     2/4      1     1/3   3/4
#   overall    8     5/8      3/4   2/4   5/8
#   (overall positives 0, 1, 2, 4 -> 1, 1, 0, 1; negatives 3, 5, 6, 7 -> 0, 1, 0, 1)
Y_TRUE = [1, 1, 1, 0, 1, 0, 0, 0]
Y_PRED = [1, 1, 0, 0, 1, 1, 0, 1]
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "b"]


def _random_case(seed, n=150):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.75, y_true, 1 - y_true)
    groups = rng.choice(["u", "v", "w"], n)
    return y_true, y_pred, groups, rng.uniform(0.2, 2.0, n)


def test_report_hand_computed():
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    assert list(report.columns) == COLUMNS
    assert list(report.index) == ["a", "b", "overall"]
    assert report.index.name == "group"
    expected = [
        [4, 3 / 4, 2 / 3, 1, 2 / 4],
        [4, 2 / 4, 1, 1 / 3, 3 / 4],
        [8, 5 / 8, 3 / 4, 2 / 4, 5 / 8],
    ]
    assert_allclose(report.to_numpy(dtype=float), expected)
    assert report["count"].dtype.kind == "i"
    assert all(report[c].dtype == np.float64 for c in COLUMNS[1:])


def test_report_differences_hand_computed():
    differences = fairness_report(Y_TRUE, Y_PRED, sensitive_features=GROUPS).attrs[
        "differences"
    ]
    assert list(differences) == list(DIFFERENCES)
    assert differences == pytest.approx(
        {
            "accuracy_difference": 1 / 4,
            "average_odds_difference": (1 / 3 + 2 / 3) / 2,
            "equal_opportunity_difference": 1 / 3,
            "demographic_parity_difference": 1 / 4,
        }
    )
    assert all(isinstance(v, float) for v in differences.values())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weighted", [False, True])
def test_report_differences_equal_metric_functions(seed, weighted):
    y_true, y_pred, groups, weight = _random_case(seed)
    weight = weight if weighted else None
    report = fairness_report(
        y_true, y_pred, sensitive_features=groups, sample_weight=weight
    )
    for name, metric in DIFFERENCES.items():
        expected = metric(
            y_true, y_pred, sensitive_features=groups, sample_weight=weight
        )
        assert report.attrs["differences"][name] == pytest.approx(expected, abs=1e-12)
    # The printed columns carry the same gaps: max - min of each rate.
    gaps = report.drop(index="overall").agg(lambda c: c.max() - c.min())
    assert gaps["accuracy"] == pytest.approx(
        report.attrs["differences"]["accuracy_difference"]
    )
    assert (gaps["tpr"] + gaps["tnr"]) / 2 == pytest.approx(
        report.attrs["differences"]["average_odds_difference"]
    )


def test_report_sample_weight_weights_rates_not_counts():
    y_true, y_pred, groups, weight = _random_case(0)
    report = fairness_report(
        y_true, y_pred, sensitive_features=groups, sample_weight=weight
    )
    for group in ["u", "v", "w"]:
        mask = groups == group
        assert report.loc[group, "count"] == mask.sum()
        expected = accuracy_score(
            y_true[mask], y_pred[mask], sample_weight=weight[mask]
        )
        assert report.loc[group, "accuracy"] == pytest.approx(expected)
    assert report.loc["overall", "count"] == len(y_true)
    assert report.loc["overall", "selection_rate"] == pytest.approx(
        np.average(y_pred, weights=weight)
    )


# Some intersections lack a class; the warning is tested elsewhere.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_report_index_named_after_series_and_frame():
    report = fairness_report(
        Y_TRUE, Y_PRED, sensitive_features=pd.Series(GROUPS, name="sex")
    )
    assert report.index.name == "sex"
    frame = pd.DataFrame({"sex": GROUPS, "old": [0, 1] * 4})
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=frame)
    assert report.index.name == "sex, old"
    assert list(report.index) == ["a, 0", "a, 1", "b, 0", "b, 1", "overall"]
    assert report.loc["overall", "count"] == 8


def test_report_integer_groups_and_string_labels():
    y_true = ["no" if v == 0 else "yes" for v in Y_TRUE]
    y_pred = ["no" if v == 0 else "yes" for v in Y_PRED]
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    report = fairness_report(y_true, y_pred, sensitive_features=groups)
    assert list(report.index) == [0, 1, "overall"]
    assert report.loc[1, "tnr"] == pytest.approx(1 / 3)


def test_report_overall_label_does_not_clash_with_group():
    groups = ["overall"] * 4 + ["other"] * 4
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=groups)
    assert list(report.index) == ["other", "overall", "overall (all groups)"]
    assert report.loc["overall (all groups)", "count"] == 8
    assert report.loc["overall", "count"] == 4


def test_report_prints_groups_and_overall():
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    text = str(report.round(3))
    lines = text.splitlines()
    assert lines[0].split() == COLUMNS
    label, *values = lines[-1].split()
    assert label == "overall"
    assert [float(v) for v in values] == pytest.approx([8, 0.625, 0.75, 0.5, 0.625])
    printed = str(pd.Series(report.attrs["differences"]))
    assert "average_odds_difference" in printed


def test_report_attrs_survive_concat():
    # A Series in attrs would make pandas.concat raise on comparing attrs.
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    both = pd.concat([report, report.copy()])
    assert both.attrs["differences"] == report.attrs["differences"]


def test_report_warns_for_undefined_rates():
    # Group "b" has no positives, group "a" no negatives.
    y_true = [1, 1, 0, 0]
    y_pred = [1, 0, 1, 0]
    with pytest.warns(UndefinedMetricWarning) as record:
        report = fairness_report(
            y_true, y_pred, sensitive_features=["a", "a", "b", "b"]
        )
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("Group 'a' has no negative samples")
    assert messages[1].startswith("Group 'b' has no positive samples")
    # fairlearn's convention: the undefined rates are shown as 0.
    assert report.loc["b", "tpr"] == 0
    assert report.loc["a", "tnr"] == 0


def test_report_silent_when_rates_defined():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fairness_report(Y_TRUE, Y_PRED, sensitive_features=GROUPS)


def test_report_rejects_bad_input():
    with pytest.raises(ValueError, match="y_pred must hold binary"):
        fairness_report([0, 1, 0, 1], [0, 1, 2, 1], sensitive_features=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="only one group"):
        fairness_report([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=[0] * 4)
    with pytest.raises(ValueError, match="has 2 entries but the data has 4 samples"):
        fairness_report([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=[0, 1])
    with pytest.raises(TypeError):
        fairness_report([0, 1], [0, 1], [0, 1])


def test_report_index_order_is_sorted():
    groups = ["b", "b", "b", "b", "a", "a", "a", "a"]
    report = fairness_report(Y_TRUE, Y_PRED, sensitive_features=groups)
    assert_array_equal(report.index[:2], ["a", "b"])
    # Group "a" is now rows 4-7: TPR 1, TNR 1/3.
    assert report.loc["a", "tpr"] == 1
