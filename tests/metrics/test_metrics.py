import doctest
import importlib
import warnings

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning

from sklearn_fairif.metrics import (
    accuracy_difference,
    average_odds_difference,
    demographic_parity_difference,
    equal_opportunity_difference,
)

OURS_AND_FAIRLEARN = [
    (accuracy_difference, flm.accuracy_score_difference),
    (
        average_odds_difference,
        lambda *a, **k: flm.equalized_odds_difference(*a, agg="mean", **k),
    ),
    (equal_opportunity_difference, flm.equal_opportunity_difference),
    (demographic_parity_difference, flm.demographic_parity_difference),
]
ALL_METRICS = [ours for ours, _ in OURS_AND_FAIRLEARN]


def _random_case(seed):
    """Draw a random binary problem; the seed fixes the kind of case.

    Bits of the seed pick 2 or 3 groups, int or str group labels, with or without
    sample weights, and the comparison method, so 100 seeds cover every
    combination many times.
    """
    rng = np.random.default_rng(seed)
    n_groups = 2 + seed % 2
    labels = ["x", "y", "z"] if (seed // 2) % 2 else [3, 7, 11]
    labels = labels[:n_groups]
    n = int(rng.integers(20, 100))
    y_true = rng.integers(0, 2, n)
    # Predictions right ~70% of the time, so the gaps are neither 0 nor 1.
    y_pred = np.where(rng.random(n) < 0.7, y_true, 1 - y_true)
    groups = rng.choice(labels, size=n, p=rng.dirichlet(np.ones(n_groups)))
    groups[:n_groups] = labels  # every group present
    weight = rng.uniform(0.1, 3.0, n) if (seed // 4) % 2 else None
    method = "to_overall" if (seed // 8) % 2 else "between_groups"
    return y_true, y_pred, groups, weight, method


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize("seed", range(100))
def test_equal_to_fairlearn_on_random_cases(seed):
    y_true, y_pred, groups, weight, method = _random_case(seed)
    for ours, theirs in OURS_AND_FAIRLEARN:
        kwargs = dict(sensitive_features=groups, method=method, sample_weight=weight)
        expected = theirs(y_true, y_pred, **kwargs)
        assert ours(y_true, y_pred, **kwargs) == pytest.approx(expected, abs=1e-12)


def test_random_cases_cover_every_kind():
    kinds = set()
    for seed in range(100):
        _, _, groups, weight, method = _random_case(seed)
        kinds.add((len(set(groups)), groups.dtype.kind, weight is None, method))
    # {2, 3} groups x {int, str} labels x {weighted, not} x {2 methods}
    assert len(kinds) == 16


# Hand-computed case with two groups:
#   group a: positives at 0, 1, 2 -> predicted 1, 1, 0: TPR 2/3
#            negative  at 3       -> predicted 0:       TNR 1
#            correct 0, 1, 3: accuracy 3/4; selected 0, 1: rate 2/4
#   group b: positive  at 4       -> predicted 1:       TPR 1
#            negatives 5, 6, 7    -> predicted 1, 0, 1: TNR 1/3
#            correct 4, 6: accuracy 2/4; selected 4, 5, 7: rate 3/4
Y_TRUE = [1, 1, 1, 0, 1, 0, 0, 0]
Y_PRED = [1, 1, 0, 0, 1, 1, 0, 1]
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "b"]
EXPECTED = {
    accuracy_difference: 1 / 4,
    average_odds_difference: (1 / 3 + 2 / 3) / 2,  # (|2/3 - 1| + |1 - 1/3|) / 2
    equal_opportunity_difference: 1 / 3,
    demographic_parity_difference: 1 / 4,
}


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_hand_computed_two_groups(metric):
    value = metric(Y_TRUE, Y_PRED, sensitive_features=GROUPS)
    assert isinstance(value, float)
    assert value == pytest.approx(EXPECTED[metric])


@pytest.mark.parametrize("metric", ALL_METRICS)
@pytest.mark.parametrize(
    "encode",
    [
        lambda y: ["no" if v == 0 else "yes" for v in y],
        lambda y: [-1 if v == 0 else 1 for v in y],
        lambda y: [bool(v) for v in y],
        lambda y: pd.Series(y, index=np.arange(100, 108)),
    ],
    ids=["str", "minus-one", "bool", "series"],
)
def test_hand_computed_other_label_encodings(metric, encode):
    # The greater label is the positive class, so all encodings agree.
    value = metric(encode(Y_TRUE), encode(Y_PRED), sensitive_features=pd.Series(GROUPS))
    assert value == pytest.approx(EXPECTED[metric])


# Sample weight 2 on row 2 (a positive of group a predicted 0):
#   group a: TPR (1 + 1) / (1 + 1 + 2) = 1/2; accuracy 3/5; selection 2/5
#   group b unchanged: TPR 1, TNR 1/3, accuracy 1/2, selection 3/4
EXPECTED_WEIGHTED = {
    accuracy_difference: 3 / 5 - 1 / 2,
    average_odds_difference: (1 / 2 + 2 / 3) / 2,
    equal_opportunity_difference: 1 / 2,
    demographic_parity_difference: 3 / 4 - 2 / 5,
}


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_hand_computed_sample_weight(metric):
    weight = [1, 1, 2, 1, 1, 1, 1, 1]
    value = metric(Y_TRUE, Y_PRED, sensitive_features=GROUPS, sample_weight=weight)
    assert value == pytest.approx(EXPECTED_WEIGHTED[metric])


# Three groups of two rows:   a      b      c     overall
#   TPR (rows 0, 2, 4)        1      0      1     2/3
#   TNR (rows 1, 3, 5)        1      1      0     2/3
#   accuracy                  1      1/2    1/2   4/6
#   selection rate            1/2    0      1     3/6
Y_TRUE_3 = [1, 0, 1, 0, 1, 0]
Y_PRED_3 = [1, 0, 0, 0, 1, 1]
GROUPS_3 = [0, 0, 1, 1, 2, 2]
EXPECTED_3 = {
    # max - min of the group values
    "between_groups": {
        accuracy_difference: 1 / 2,
        average_odds_difference: (1 + 1) / 2,
        equal_opportunity_difference: 1,
        demographic_parity_difference: 1,
    },
    # largest |group - overall|
    "to_overall": {
        accuracy_difference: 1 - 4 / 6,
        average_odds_difference: (2 / 3 + 2 / 3) / 2,
        equal_opportunity_difference: 2 / 3,
        demographic_parity_difference: 1 / 2,
    },
}


@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
@pytest.mark.parametrize("metric", ALL_METRICS)
def test_hand_computed_three_groups(metric, method):
    value = metric(Y_TRUE_3, Y_PRED_3, sensitive_features=GROUPS_3, method=method)
    assert value == pytest.approx(EXPECTED_3[method][metric])


def test_average_odds_is_absolute_not_signed():
    # a: TPR 1, FPR 0; b: TPR 1/2, FPR 1/2. AIF360's signed version,
    # ((1/2 - 1) + (1/2 - 0)) / 2, cancels to 0; the paper's does not.
    y_true = [1, 1, 0, 0, 1, 1, 0, 0]
    y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    groups = ["a"] * 4 + ["b"] * 4
    value = average_odds_difference(y_true, y_pred, sensitive_features=groups)
    assert value == pytest.approx(0.5)


def test_intersectional_groups_match_fairlearn():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, (2, 200))
    frame = pd.DataFrame(
        {"sex": rng.choice(["F", "M"], 200), "race": rng.choice(["u", "v"], 200)}
    )
    for ours, theirs in OURS_AND_FAIRLEARN:
        expected = theirs(y_true, y_pred, sensitive_features=frame)
        assert ours(y_true, y_pred, sensitive_features=frame) == pytest.approx(expected)


# ------------------------------------------------------------------- warnings


@pytest.mark.parametrize(
    "metric", [average_odds_difference, equal_opportunity_difference]
)
def test_warns_when_group_has_no_positives(metric):
    # Group "b" has no positives: fairlearn silently gives it TPR 0.
    y_true = [1, 0, 1, 0, 0, 0]
    y_pred = [1, 0, 0, 0, 1, 0]
    groups = ["a", "a", "a", "b", "b", "b"]
    with pytest.warns(UndefinedMetricWarning, match="Group 'b' has no positive"):
        value = metric(y_true, y_pred, sensitive_features=groups)
    fairlearn_value = dict(OURS_AND_FAIRLEARN)[metric](
        y_true, y_pred, sensitive_features=groups
    )
    assert value == pytest.approx(fairlearn_value)


def test_average_odds_warns_when_group_has_no_negatives():
    y_true = [1, 0, 1, 1]
    y_pred = [1, 0, 1, 0]
    with pytest.warns(UndefinedMetricWarning, match="Group 1 has no negative"):
        average_odds_difference(y_true, y_pred, sensitive_features=[0, 0, 1, 1])


@pytest.mark.parametrize(
    "metric",
    [accuracy_difference, demographic_parity_difference, equal_opportunity_difference],
)
def test_no_warning_when_rates_do_not_need_the_class(metric):
    # Group 1 has no negatives: only the TNR (used by AOD alone) is undefined.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metric([1, 0, 1, 1], [1, 0, 1, 0], sensitive_features=[0, 0, 1, 1])


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_rejects_non_binary_y(metric):
    with pytest.raises(ValueError, match="y_true must hold binary class labels"):
        metric([0, 1, 2, 1], [0, 1, 1, 1], sensitive_features=[0, 0, 1, 1])
    with pytest.raises(ValueError, match="y_pred must hold binary.*'continuous'"):
        metric([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.7], sensitive_features=[0, 0, 1, 1])


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_rejects_bad_lengths(metric):
    with pytest.raises(ValueError, match="y_true and y_pred must have the same length"):
        metric([0, 1, 0, 1], [0, 1, 1], sensitive_features=[0, 0, 1, 1])
    msg = "sensitive_features has 3 entries but the data has 4 samples"
    with pytest.raises(ValueError, match=msg):
        metric([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=[0, 0, 1])


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_rejects_bad_groups(metric):
    with pytest.raises(ValueError, match="only one group"):
        metric([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=["a"] * 4)
    with pytest.raises(ValueError, match="missing group label"):
        metric([0, 1, 0, 1], [0, 1, 1, 1], sensitive_features=["a", None, "b", "b"])


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_rejects_bad_method_and_weights(metric):
    args = ([0, 1, 0, 1], [0, 1, 1, 1])
    with pytest.raises(ValueError, match="method must be one of .*got 'worst'"):
        metric(*args, sensitive_features=[0, 0, 1, 1], method="worst")
    with pytest.raises(ValueError, match="sample_weight"):
        metric(*args, sensitive_features=[0, 0, 1, 1], sample_weight=[1, 1])


def test_sensitive_features_is_keyword_only():
    with pytest.raises(TypeError):
        accuracy_difference([0, 1], [0, 1], [0, 1])


# ----------------------------------------------------------------- docstrings


@pytest.mark.parametrize("module", ["metrics._metrics", "metrics._report",
                                    "metrics._scorers", "utils._validation",
                                    "utils._arrays", "metrics._targets"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"sklearn_fairif.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
