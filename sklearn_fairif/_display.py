"""AlphaPathDisplay: the alpha path of a fitted FairIFClassifier, plotted.

matplotlib is imported only by :meth:`AlphaPathDisplay.plot`, so importing the
package (which re-exports the class) does not import it.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._fairif import FairIFClassifier

KINDS = ("crossfit", "refit", "fallback")
MATPLOTLIB_HINT = "pip install 'sklearn-fairif[report]'"

_GAP_COLOR, _ACCURACY_COLOR, _CHOSEN_COLOR = "tab:blue", "tab:orange", "tab:red"


def _import_pyplot(caller):
    """Return ``matplotlib.pyplot``, or raise an ImportError naming the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed; install it "
            f"with {MATPLOTLIB_HINT} (or pip install matplotlib)."
        ) from exc
    return plt


def _optional_array(values, n, name):
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"{name} should have shape ({n},), got {values.shape}.")
    return values


def _log_edges(alphas):
    """Edges of the cells around sorted ``alphas`` on a log axis.

    Each alpha's cell runs to the geometric midpoints with its neighbours; a
    single alpha gets half a decade on each side.
    """
    logs = np.log10(alphas)
    if len(logs) == 1:
        return 10.0 ** np.array([logs[0] - 0.5, logs[0] + 0.5])
    mids = (logs[1:] + logs[:-1]) / 2
    first, last = logs[0] - (mids[0] - logs[0]), logs[-1] + (logs[-1] - mids[-1])
    return 10.0 ** np.concatenate([[first], mids, [last]])


def _runs(mask):
    """``(start, stop)`` of each run of True in a boolean array."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[::2], changes[1::2], strict=True))


class AlphaPathDisplay:
    """Alpha path visualization: the fairness gap and the accuracy along alpha.

    Shows how :class:`FairIFClassifier` chose ``alpha_``. On a log ``alpha``
    axis, the left axis shows the fairness gap and the right (twin) axis the
    accuracy, with the accuracy that ``tol`` allows as a dashed line. The
    chosen ``alpha_`` is a vertical line, and the alphas that break the
    accuracy budget are shaded grey.

    With ``alpha="auto"`` (``kind="crossfit"``) both curves are cross-fitted
    first-order predictions on held-out validation folds: the mean held-out
    gap and the mean predicted change of held-out accuracy, each with a band
    of plus or minus one standard deviation over the folds. With a list of
    alphas (``kind="refit"``) they are the refitted models' validation gap
    and accuracy (in-sample: the weights were fitted to those rows), and the
    unweighted model's gap is a dotted line. ``kind="fallback"`` shows the
    refits of ``alpha="auto"``'s fallback on a validation set too small to
    cross-fit: its fixed value, and larger ones if it lost more than ``tol``
    of validation accuracy.

    Use :meth:`from_estimator` to create one from a fitted estimator; the
    constructor only stores the numbers. See :ref:`choosing_alpha`.

    Parameters
    ----------
    alphas : array-like of shape (n_alphas,)
        The candidate alphas (positive).
    gap : array-like of shape (n_alphas,)
        The fairness gap (mean absolute value of the constraints) per alpha;
        NaN where an alpha was not evaluated (``"auto"`` stops its scan early
        once smaller alphas lose too much accuracy or stop closing the gap).
    alpha_chosen : float
        The alpha that was chosen (``alpha_``).
    kind : {"crossfit", "refit", "fallback"}, default="crossfit"
        Which numbers ``gap`` and ``accuracy`` are (see above); sets the axis
        labels.
    gap_std : array-like of shape (n_alphas,), default=None
        Spread of ``gap`` over the folds; drawn as a band.
    accuracy : array-like of shape (n_alphas,), default=None
        Per alpha: the predicted change of held-out accuracy
        (``"crossfit"``) or the validation accuracy (``"refit"``,
        ``"fallback"``). None, or all NaN (demographic parity without
        labels), for no accuracy axis.
    accuracy_std : array-like of shape (n_alphas,), default=None
        Spread of ``accuracy`` over the folds; drawn as a band.
    admissible : array-like of bool of shape (n_alphas,), default=None
        Whether each alpha is within the accuracy budget; the others are
        shaded. None for no shading.
    baseline_accuracy : float, default=None
        The accuracy the budget is counted from: 0 for accuracy changes, the
        unweighted model's validation accuracy for refits. With ``tol``, a
        dashed line is drawn at ``baseline_accuracy - tol``.
    tol : float, default=None
        The accuracy budget (the estimator's ``tol``).
    baseline_gap : float, default=None
        The unweighted model's gap, drawn as a dotted line.
    refitted_accuracy : array-like of shape (n_alphas,), default=None
        ``"crossfit"`` only: the change of validation accuracy of the
        candidates that were refitted (NaN for the others), drawn as
        crosses on the accuracy axis: the choice and any finalists its
        refit check tried.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes of the gap (left y-axis).
    accuracy_ax_ : matplotlib Axes or None
        The twin axes of the accuracy (right y-axis); None without accuracy.
    figure_ : matplotlib Figure
        The figure holding the axes.
    gap_line_ : matplotlib Line2D
        The gap per alpha.
    gap_band_ : matplotlib PolyCollection or None
        The band of ``gap_std``.
    accuracy_line_ : matplotlib Line2D or None
        The accuracy per alpha.
    accuracy_band_ : matplotlib PolyCollection or None
        The band of ``accuracy_std``.
    tol_line_ : matplotlib Line2D or None
        The horizontal line at ``baseline_accuracy - tol``.
    refitted_marker_ : matplotlib Line2D or None
        The crosses of ``refitted_accuracy``.
    baseline_gap_line_ : matplotlib Line2D or None
        The horizontal line at ``baseline_gap``.
    chosen_line_ : matplotlib Line2D
        The vertical line at ``alpha_chosen``.
    chosen_marker_ : matplotlib Line2D or None
        The circle around the gap at ``alpha_chosen`` (None when that gap
        is unknown).
    inadmissible_spans_ : list of matplotlib Patch
        The shaded spans of inadmissible alphas (one per run of neighbours).

    See Also
    --------
    FairIFClassifier : Its ``cv_results_`` hold the path.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_fairif import AlphaPathDisplay, FairIFClassifier
    >>> from sklearn_fairif.datasets import make_biased_classification
    >>> X, y, s = make_biased_classification(2000, bias="group_size", random_state=0)
    >>> clf = FairIFClassifier(random_state=0)
    >>> clf.fit(X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:], s_val=s[1500:])
    FairIFClassifier(random_state=0)
    >>> display = AlphaPathDisplay.from_estimator(clf)
    >>> display.kind
    'crossfit'
    >>> bool(display.chosen_line_.get_xdata()[0] == clf.alpha_)
    True
    """

    def __init__(self, *, alphas, gap, alpha_chosen, kind="crossfit", gap_std=None,
                 accuracy=None, accuracy_std=None, admissible=None,
                 baseline_accuracy=None, tol=None, baseline_gap=None,
                 refitted_accuracy=None):
        self.alphas = alphas
        self.gap = gap
        self.alpha_chosen = alpha_chosen
        self.kind = kind
        self.gap_std = gap_std
        self.accuracy = accuracy
        self.accuracy_std = accuracy_std
        self.admissible = admissible
        self.baseline_accuracy = baseline_accuracy
        self.tol = tol
        self.baseline_gap = baseline_gap
        self.refitted_accuracy = refitted_accuracy

    @classmethod
    def from_estimator(cls, estimator, *, X_val=None, y_val=None, ax=None,
                       gap_kw=None, accuracy_kw=None):
        """Plot the alpha path of a fitted :class:`FairIFClassifier`.

        Parameters
        ----------
        estimator : FairIFClassifier
            Fitted with a validation set, so that it has ``cv_results_``.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
                default=None
            The validation data the estimator was fitted with. Used only for
            a list of alphas, whose budget counts from the unweighted model's
            validation accuracy, which ``cv_results_`` does not hold: with
            ``X_val`` and ``y_val`` it is computed and the ``tol`` line is
            drawn. The alphas outside the budget are shaded either way
            (``cv_results_["val_within_tol"]``).
        y_val : array-like of shape (n_val,), default=None
            The validation labels, with ``X_val``.
        ax : matplotlib Axes, default=None
            Axes to plot on; a new figure when None.
        gap_kw, accuracy_kw : dict, default=None
            Keyword arguments of the gap and the accuracy lines
            (:meth:`matplotlib.axes.Axes.plot`).

        Returns
        -------
        display : AlphaPathDisplay
            With the plot's artists as attributes.

        Raises
        ------
        TypeError
            If ``estimator`` is not a FairIFClassifier.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If it was fitted without a validation set (no alpha path), or
            only one of ``X_val`` and ``y_val`` is given.
        ImportError
            If matplotlib is not installed.
        """
        if not isinstance(estimator, FairIFClassifier):
            raise TypeError(
                "AlphaPathDisplay.from_estimator needs a FairIFClassifier, got "
                f"{type(estimator).__name__}."
            )
        check_is_fitted(estimator)
        if not hasattr(estimator, "cv_results_"):
            raise ValueError(
                "This FairIFClassifier was fitted without a validation set, so it "
                "has no alpha path (cv_results_); fit it with X_val, y_val and "
                "s_val."
            )
        if (X_val is None) != (y_val is None):
            raise ValueError("Pass both X_val and y_val, or neither.")
        _import_pyplot("AlphaPathDisplay")  # before any work
        results = estimator.cv_results_
        if "heldout_gap" in results:
            display = cls(
                kind="crossfit", alphas=results["alpha"],
                gap=results["heldout_gap"], gap_std=results["heldout_gap_std"],
                accuracy=results["heldout_utility_change"],
                accuracy_std=results["heldout_utility_change_std"],
                admissible=results["admissible"], baseline_accuracy=0.0,
                tol=estimator.tol, alpha_chosen=estimator.alpha_,
                refitted_accuracy=(results["val_accuracy_refitted"]
                                   - results["val_accuracy_unweighted"]),
            )
        else:
            accuracy = np.asarray(results["val_accuracy"], dtype=float)
            baseline = admissible = None
            if not np.all(np.isnan(accuracy)):
                admissible = np.asarray(results["val_within_tol"], dtype=bool)
                if X_val is not None:
                    predicted = np.asarray(estimator._predict_labels(
                        X_val, estimator.initial_estimator_))
                    baseline = float(np.mean(
                        predicted == np.asarray(y_val).ravel()))
            display = cls(
                kind="fallback" if isinstance(estimator.alpha, str) else "refit",
                alphas=results["alpha"], gap=results["val_gap"],
                accuracy=accuracy, admissible=admissible,
                baseline_accuracy=baseline, tol=estimator.tol,
                baseline_gap=float(np.mean(np.abs(
                    estimator.validation_gaps_["hard_before"]))),
                alpha_chosen=estimator.alpha_,
            )
        return display.plot(ax=ax, gap_kw=gap_kw, accuracy_kw=accuracy_kw)

    def _arrays(self):
        """Return the stored numbers as float arrays sorted by alpha (validated)."""
        if self.kind not in KINDS:
            raise ValueError(f"kind should be one of {KINDS}, got {self.kind!r}.")
        alphas = np.asarray(self.alphas, dtype=float).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas) & (alphas > 0)):
            raise ValueError("alphas should be a non-empty array of positive "
                             "finite floats.")
        n = len(alphas)
        arrays = {
            "gap": _optional_array(self.gap, n, "gap"),
            "gap_std": _optional_array(self.gap_std, n, "gap_std"),
            "accuracy": _optional_array(self.accuracy, n, "accuracy"),
            "accuracy_std": _optional_array(self.accuracy_std, n, "accuracy_std"),
            "refitted": _optional_array(self.refitted_accuracy, n,
                                        "refitted_accuracy"),
            "admissible": None if self.admissible is None else _optional_array(
                self.admissible, n, "admissible").astype(bool),
        }
        order = np.argsort(alphas, kind="stable")
        sorted_ = {k: None if v is None else v[order] for k, v in arrays.items()}
        return alphas[order], sorted_

    def plot(self, ax=None, *, gap_kw=None, accuracy_kw=None):
        """Plot the path.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on (the gap's; the accuracy gets a twin of it); a new
            figure when None.
        gap_kw, accuracy_kw : dict, default=None
            Keyword arguments of the gap and the accuracy lines
            (:meth:`matplotlib.axes.Axes.plot`).

        Returns
        -------
        display : AlphaPathDisplay
            ``self``, with the plot's artists as attributes.
        """
        plt = _import_pyplot("AlphaPathDisplay.plot")
        alphas, a = self._arrays()
        crossfit = self.kind == "crossfit"
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        ax.set_xscale("log")

        edges = _log_edges(alphas)
        self.inadmissible_spans_ = []
        if a["admissible"] is not None:
            for i, (start, stop) in enumerate(_runs(~a["admissible"])):
                label = ("accuracy budget exceeded (tol)" if i == 0 else None)
                self.inadmissible_spans_.append(ax.axvspan(
                    edges[start], edges[stop], color="0.6", alpha=0.2, lw=0,
                    label=label, zorder=0))

        seen = np.isfinite(a["gap"])
        gap_label = ("predicted held-out gap (mean over folds)" if crossfit
                     else "validation gap (refitted)")
        line_kw = {"marker": "o", "ms": 4, "color": _GAP_COLOR, "label": gap_label,
                   **(gap_kw or {})}
        (self.gap_line_,) = ax.plot(alphas[seen], a["gap"][seen], **line_kw)
        self.gap_band_ = None
        if a["gap_std"] is not None:
            self.gap_band_ = ax.fill_between(
                alphas[seen], (a["gap"] - a["gap_std"])[seen],
                (a["gap"] + a["gap_std"])[seen],
                color=self.gap_line_.get_color(), alpha=0.2, lw=0,
                label="± 1 std over folds")
        self.baseline_gap_line_ = None
        if self.baseline_gap is not None:
            self.baseline_gap_line_ = ax.axhline(
                self.baseline_gap, color=self.gap_line_.get_color(), ls=":", lw=1,
                label="unweighted model's validation gap")
        ax.set_xlabel("alpha (smaller: stronger reweighting)")
        ax.set_ylabel("predicted held-out gap" if crossfit else "validation gap")

        self.accuracy_ax_ = self.accuracy_line_ = None
        self.accuracy_band_ = self.tol_line_ = self.refitted_marker_ = None
        if a["accuracy"] is not None and np.isfinite(a["accuracy"]).any():
            self._plot_accuracy(ax, alphas, a, accuracy_kw)

        chosen = float(self.alpha_chosen)
        self.chosen_line_ = ax.axvline(chosen, color=_CHOSEN_COLOR, ls="--", lw=1.2,
                                       label=f"chosen alpha_ = {chosen:.3g}")
        at = np.flatnonzero(np.isclose(alphas, chosen) & seen)
        self.chosen_marker_ = None
        if at.size:
            (self.chosen_marker_,) = ax.plot(
                alphas[at[0]], a["gap"][at[0]], "o", ms=10, mfc="none",
                mec=_CHOSEN_COLOR, mew=1.5)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_title(self._title(), fontsize=9)
        ax.grid(alpha=0.3, which="major")
        handles, labels = ax.get_legend_handles_labels()
        if self.accuracy_ax_ is not None:
            more = self.accuracy_ax_.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        (self.accuracy_ax_ or ax).legend(handles, labels, fontsize=7,
                                         loc="best", framealpha=0.9)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _plot_accuracy(self, ax, alphas, a, accuracy_kw):
        crossfit = self.kind == "crossfit"
        acc_ax = ax.twinx()
        seen = np.isfinite(a["accuracy"])
        label = ("predicted held-out accuracy change" if crossfit
                 else "validation accuracy (refitted)")
        line_kw = {"marker": "s", "ms": 4, "color": _ACCURACY_COLOR,
                   "label": label, **(accuracy_kw or {})}
        (self.accuracy_line_,) = acc_ax.plot(alphas[seen], a["accuracy"][seen],
                                             **line_kw)
        if a["accuracy_std"] is not None:
            low = (a["accuracy"] - a["accuracy_std"])[seen]
            high = (a["accuracy"] + a["accuracy_std"])[seen]
            self.accuracy_band_ = acc_ax.fill_between(
                alphas[seen], low, high, color=self.accuracy_line_.get_color(),
                alpha=0.12, lw=0)
        if self.baseline_accuracy is not None and self.tol is not None:
            threshold = self.baseline_accuracy - self.tol
            text = (f"-tol = {-self.tol:g}" if crossfit else
                    f"unweighted accuracy - tol = {threshold:.3f}")
            self.tol_line_ = acc_ax.axhline(
                threshold, color=self.accuracy_line_.get_color(), ls="--", lw=1,
                label=text)
        refitted = a["refitted"]
        if crossfit and refitted is not None and np.isfinite(refitted).any():
            on = np.isfinite(refitted)
            (self.refitted_marker_,) = acc_ax.plot(
                alphas[on], refitted[on], "x", ms=7, mew=1.5,
                color=self.accuracy_line_.get_color(),
                label="validation accuracy change (refitted)")
        acc_ax.set_ylabel("predicted held-out accuracy change" if crossfit
                          else "validation accuracy")
        self.accuracy_ax_ = acc_ax

    def _title(self):
        if self.kind == "crossfit":
            return ("alpha='auto': cross-fitted first-order predictions on "
                    "held-out validation folds")
        if self.kind == "fallback":
            return (f"alpha='auto' without cross-fitting: its fallback's "
                    f"refits chose alpha={self.alpha_chosen:g}")
        return "alpha list: each value refitted, judged on the validation set"
