"""AlphaPathDisplay: the artists it draws, where, and its errors."""

import doctest
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_fairif import AlphaPathDisplay, FairIFClassifier

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _fit(clf, data, **kw):
    X, y, X_val, y_val, s_val = data[:5]
    return clf.fit(X, y, X_val=X_val, y_val=y_val, s_val=s_val, **kw)


@pytest.fixture(scope="module")
def auto_fit(biased_split):
    return _fit(FairIFClassifier(random_state=0), biased_split)


@pytest.fixture(scope="module")
def list_fit(biased_split):
    alphas = [0.3, 0.01, 0.1, 10.0, 1.0]  # unsorted on purpose
    return _fit(FairIFClassifier(alpha=alphas, random_state=0), biased_split)


def _x_range(span):
    """Data x-limits of an ``axvspan`` patch (a Rectangle or a Polygon)."""
    xs = span.get_path().transformed(span.get_patch_transform()).vertices[:, 0]
    return xs.min(), xs.max()


def _shaded(display, alpha):
    return any(lo < alpha < hi for lo, hi in map(_x_range,
                                                 display.inadmissible_spans_))


# ------------------------------------------------------------- alpha="auto"
def test_crossfit_path_artists(auto_fit, biased_split):
    results = auto_fit.cv_results_
    display = AlphaPathDisplay.from_estimator(auto_fit)
    assert display.kind == "crossfit"
    assert display.ax_.get_xscale() == "log"
    assert display.figure_ is display.ax_.figure

    # The gap line: the scanned candidates only (NaN: not scanned).
    seen = np.isfinite(results["heldout_gap"])
    assert 1 < seen.sum() <= len(results["alpha"])
    assert_allclose(display.gap_line_.get_xdata(), results["alpha"][seen])
    assert_allclose(display.gap_line_.get_ydata(), results["heldout_gap"][seen])
    assert display.gap_band_ is not None

    # The chosen alpha: a vertical line, and a circle on the gap curve.
    assert_allclose(display.chosen_line_.get_xdata(), [auto_fit.alpha_] * 2)
    j = int(np.flatnonzero(results["alpha"] == auto_fit.alpha_)[0])
    assert_allclose(display.chosen_marker_.get_xdata(), [auto_fit.alpha_])
    assert_allclose(display.chosen_marker_.get_ydata(), [results["heldout_gap"][j]])

    # The accuracy change on a twin axis, with the -tol line.
    assert display.accuracy_ax_ is not None
    assert display.accuracy_ax_ is not display.ax_
    assert display.accuracy_line_.axes is display.accuracy_ax_
    util = results["heldout_utility_change"]
    assert_allclose(display.accuracy_line_.get_ydata(), util[np.isfinite(util)])
    assert_allclose(display.tol_line_.get_ydata(), [-auto_fit.tol] * 2)
    assert display.accuracy_band_ is not None

    # The refitted choice: a cross at its validation accuracy change.
    assert display.refitted_marker_.axes is display.accuracy_ax_
    assert_allclose(display.refitted_marker_.get_xdata(), [auto_fit.alpha_])
    X_val, y_val = biased_split[2:4]
    change = (auto_fit.estimator_.score(X_val, y_val)
              - auto_fit.initial_estimator_.score(X_val, y_val))
    assert_allclose(display.refitted_marker_.get_ydata(), [change])


def test_crossfit_shades_exactly_the_inadmissible_alphas(auto_fit):
    results = auto_fit.cv_results_
    display = AlphaPathDisplay.from_estimator(auto_fit)
    assert not results["admissible"].all()  # else this test checks nothing
    for alpha, admissible in zip(results["alpha"], results["admissible"],
                                 strict=True):
        assert _shaded(display, alpha) == (not admissible), alpha


def test_plots_on_the_given_axes(auto_fit):
    _, ax = plt.subplots()
    display = AlphaPathDisplay.from_estimator(auto_fit, ax=ax,
                                              gap_kw={"color": "black"})
    assert display.ax_ is ax
    assert display.gap_line_.get_color() == "black"
    assert display.gap_line_ in ax.get_lines()


def test_without_labels_there_is_no_accuracy_axis(biased_split):
    X, y, X_val, _, s_val = biased_split[:5]
    clf = FairIFClassifier(objective="demographic_parity", random_state=0).fit(
        X, y, X_val=X_val, s_val=s_val)
    display = AlphaPathDisplay.from_estimator(clf)
    assert display.accuracy_ax_ is None and display.tol_line_ is None
    assert display.inadmissible_spans_ == []  # every scanned alpha admissible
    assert_allclose(display.chosen_line_.get_xdata(), [clf.alpha_] * 2)


# --------------------------------------------------------- a list of alphas
def test_refit_path_with_the_validation_set(list_fit, biased_split):
    X_val, y_val = biased_split[2:4]
    results = list_fit.cv_results_
    display = AlphaPathDisplay.from_estimator(list_fit, X_val=X_val, y_val=y_val)
    assert display.kind == "refit"
    order = np.argsort(results["alpha"])
    assert_allclose(display.gap_line_.get_xdata(),
                    np.asarray(results["alpha"])[order])
    assert_allclose(display.gap_line_.get_ydata(),
                    np.asarray(results["val_gap"])[order])
    assert_allclose(display.accuracy_line_.get_ydata(),
                    np.asarray(results["val_accuracy"])[order])
    assert display.gap_band_ is None and display.accuracy_band_ is None
    assert_allclose(display.chosen_line_.get_xdata(), [list_fit.alpha_] * 2)

    # The budget counts from the unweighted model's validation accuracy.
    baseline = np.mean(list_fit.initial_estimator_.predict(X_val) == y_val)
    assert_allclose(display.tol_line_.get_ydata(), [baseline - list_fit.tol] * 2)
    unweighted_gap = np.mean(np.abs(list_fit.validation_gaps_["hard_before"]))
    assert_allclose(display.baseline_gap_line_.get_ydata(), [unweighted_gap] * 2)
    for alpha, accuracy in zip(results["alpha"], results["val_accuracy"],
                               strict=True):
        admissible = accuracy >= baseline - list_fit.tol
        assert _shaded(display, alpha) == (not admissible), alpha


def test_refit_path_without_the_validation_set_has_no_budget_line(list_fit):
    # The budget's line needs the unweighted model's validation accuracy;
    # which alphas kept it, cv_results_ says.
    display = AlphaPathDisplay.from_estimator(list_fit)
    assert display.tol_line_ is None and display.accuracy_line_ is not None
    results = list_fit.cv_results_
    assert not all(results["val_within_tol"])  # something to shade
    for alpha, within in zip(results["alpha"], results["val_within_tol"],
                             strict=True):
        assert _shaded(display, alpha) == (not within), alpha


def test_fallback_of_auto(biased_split):
    # A validation set with one positive in group 1 cannot be cross-fitted:
    # "auto" refits 0.3 (and larger values if it loses accuracy).
    X, y, X_val, y_val, s_val = biased_split[:5]
    positives = np.flatnonzero((s_val == 1) & (y_val == 1))
    keep = np.setdiff1d(np.arange(len(y_val)), positives[1:])
    clf = FairIFClassifier(random_state=0)
    with pytest.warns(UserWarning) as record:
        clf.fit(X, y, X_val=X_val[keep], y_val=y_val[keep], s_val=s_val[keep])
    messages = " ".join(str(w.message) for w in record)
    assert "has 1 positive" in messages and "falling back" in messages
    assert "heldout_gap" not in clf.cv_results_  # the refit kind
    display = AlphaPathDisplay.from_estimator(clf)
    assert display.kind == "fallback"
    assert "without cross-fitting" in display.ax_.get_title()
    # 0.3 and, when it lost more than tol, the larger values refitted.
    assert_allclose(display.gap_line_.get_xdata(), clf.cv_results_["alpha"])
    assert display.gap_line_.get_xdata()[0] == 0.3
    assert display.chosen_line_.get_xdata()[0] == clf.alpha_
    lo, hi = display.ax_.get_xlim()
    assert lo < clf.alpha_ < hi


# ------------------------------------------------------------------- errors
def test_unfitted_estimator():
    with pytest.raises(NotFittedError):
        AlphaPathDisplay.from_estimator(FairIFClassifier())


def test_not_a_fairif_classifier(biased_split):
    X, y = biased_split[:2]
    with pytest.raises(TypeError, match="needs a FairIFClassifier"):
        AlphaPathDisplay.from_estimator(LogisticRegression().fit(X, y))


def test_fitted_without_a_validation_set(biased_split):
    X, y = biased_split[:2]
    clf = FairIFClassifier().fit(X, y)
    with pytest.raises(ValueError, match="without a validation set"):
        AlphaPathDisplay.from_estimator(clf)


def test_x_val_needs_y_val(list_fit, biased_split):
    with pytest.raises(ValueError, match="both X_val and y_val"):
        AlphaPathDisplay.from_estimator(list_fit, X_val=biased_split[2])


def test_matplotlib_missing(auto_fit, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"sklearn-fairif\[report\]"):
        AlphaPathDisplay.from_estimator(auto_fit)
    display = AlphaPathDisplay(alphas=[0.1, 1.0], gap=[0.1, 0.2], alpha_chosen=1.0)
    with pytest.raises(ImportError, match=r"AlphaPathDisplay.plot requires"):
        display.plot()


@pytest.mark.parametrize(
    "params, match",
    [
        ({"kind": "cv"}, "kind should be one of"),
        ({"alphas": [0.1, -1.0]}, "positive"),
        ({"gap": [0.1]}, r"gap should have shape \(2,\)"),
        ({"accuracy_std": [0.1, 0.2, 0.3]}, "accuracy_std should have shape"),
    ],
)
def test_bad_constructor_values(params, match):
    display = AlphaPathDisplay(**{"alphas": [0.1, 1.0], "gap": [0.1, 0.2],
                                  "alpha_chosen": 1.0, **params})
    with pytest.raises(ValueError, match=match):
        display.plot()


def test_import_does_not_import_matplotlib():
    code = ("import sys\nimport sklearn_fairif\n"
            "from sklearn_fairif import AlphaPathDisplay\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_examples_run():
    from sklearn_fairif import _display

    result = doctest.testmod(_display, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
