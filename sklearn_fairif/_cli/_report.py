"""Output: the terminal summary, the plots and the Markdown report."""

import textwrap
import time

import numpy as np
import pandas as pd

from ._common import _GAP_NAMES, _METRIC_COLUMNS
from ._run import _logger

# Why --alpha auto used its fixed fallback: the command line's models all have
# the adapter hooks cross-fitting needs (exact or iterative solve), so the one
# reason left is the validation set.
_FALLBACK_REASON = ("a group x label cell of the validation set has too few "
                    "rows to appear in two folds")


def _format_table(table):
    shown = table.rename(columns=_METRIC_COLUMNS)
    return shown.to_string(float_format=lambda v: f"{v:.3f}")


def _summary_lines(result, args):
    """Plain-language reading of the result, for the terminal and report.md."""
    erm, fair = result.table.iloc[0], result.table.iloc[1]
    gap_name = _GAP_NAMES[args.objective][0]
    lines = []
    test_metric = {"AOD": "average_odds_difference", "EOD":
                   "equal_opportunity_difference", "AD": "accuracy_difference",
                   "DP": "demographic_parity_difference"}[gap_name]
    before, after = erm[test_metric], fair[test_metric]
    change = "fell" if after < before else "rose" if after > before else "stayed"
    lines.append(
        f"On the {result.problem.eval_part} set, {gap_name} {change} from "
        f"{before:.3f} to {after:.3f} and accuracy went from {erm['accuracy']:.3f} "
        f"to {fair['accuracy']:.3f} ({100 * (fair['accuracy'] - erm['accuracy']):+.1f}"
        " points).")
    lines += _choice_lines(result, args, gap_name)
    return lines


def _choice_lines(result, args, gap_name):
    """Say how alpha was chosen (nothing for one alpha given)."""
    path, alpha = result.path, result.clf.alpha_
    if result.path_kind == "fallback":
        return [f"--alpha auto could not cross-fit: {_FALLBACK_REASON}; "
                f"FairIF used alpha={alpha:g} ({_fallback_refits(path)}); pass "
                "a list (--alpha 0.01,0.1,1) to choose among refits."]
    if result.path_kind == "crossfit":
        return _crossfit_lines(result, args, gap_name)
    n_alpha = len(path)
    if n_alpha == 1:
        return []
    admissible = path["val_within_tol"]
    rule = (f"alpha={alpha:g} was chosen from {n_alpha} values: the "
            f"smallest validation {gap_name} among those keeping validation "
            f"accuracy within --tol={args.tol:g} of ERM's")
    if not admissible.any():
        rule = (f"no alpha kept validation accuracy within --tol={args.tol:g} of "
                f"ERM's, so the most accurate, alpha={alpha:g}, was "
                "kept; a larger --tol allows fairer, less accurate models")
    elif alpha == max(path["alpha"]):
        rule += ("; it is the largest value tried (the mildest reweighting): "
                 "a larger --tol allows fairer, less accurate models")
    return [rule + "."]


def _crossfit_lines(result, args, gap_name):
    """Say the cross-fitted rule in one sentence, then the chosen alpha's refit."""
    path, alpha = result.path, result.clf.alpha_
    rule = (f"alpha={alpha:.3g} was chosen from {len(path)} candidates by "
            "cross-fitting on the validation set (weights solved on the other "
            "folds, judged on each held-out fold by first-order predictions, no "
            f"refit per candidate): the smallest predicted held-out {gap_name} "
            "among those whose predicted held-out accuracy falls by at most "
            f"--tol={args.tol:g}")
    if not path["admissible"].any():
        rule = (f"no candidate kept the predicted held-out accuracy within "
                f"--tol={args.tol:g} (cross-fitted on the validation set), so "
                f"the largest, alpha={alpha:.3g} (the mildest reweighting), was "
                "used; a larger --tol allows fairer, less accurate models")
    elif alpha == path["alpha"].max():
        rule += "; it is the largest candidate (the mildest reweighting)"
    chosen, erm = result.chosen_val, result.erm_val
    refit = (f"Refitted with alpha={alpha:.3g}, validation accuracy is "
             f"{chosen['val_accuracy']:.3f} and validation {gap_name} "
             f"{chosen['val_gap']:.3f} (ERM: {erm['val_accuracy']:.3f} and "
             f"{erm['val_gap']:.3f}; in-sample, on the rows the weights were "
             "fitted to).")
    return [rule + ".", refit]


def _print_result(result, args):
    log = _logger(args.quiet)
    problem = result.problem
    log(f"\n{problem.eval_part.capitalize()} set ({len(problem.y_test):,} rows), "
        f"FairIF fitted in {result.fit_seconds:.1f}s:")
    log(_format_table(result.table.rename_axis(None)), wrap=False)
    log("Acc: accuracy. AD, AOD, EOD, DP: accuracy, average-odds, "
        "equal-opportunity and demographic-parity differences between groups "
        "(lower is fairer).")
    log("")
    for line in _summary_lines(result, args):
        log(line)
    log("\nWho was reweighted (mean FairIF weight of the training rows; their "
        "groups were used only for this summary):")
    shown = result.weights.rename(columns={
        "group": problem.sensitive, "label": problem.target,
        "mean_weight": "mean weight"})
    log(shown[[problem.sensitive, problem.target, "rows", "mean weight"]].to_string(
        index=False, float_format=lambda v: f"{v:.2f}"), wrap=False)


def _write_report(result, args, out, extra_files=()):
    out.mkdir(parents=True, exist_ok=True)
    result.table.rename(columns=_METRIC_COLUMNS).to_csv(out / "metrics.csv")
    result.path.to_csv(out / "alpha_path.csv", index=False)
    weights = result.weights.rename(columns={"group": result.problem.sensitive})
    weights.to_csv(out / "weights_by_group.csv", index=False)
    plots = _plots(result, args, out)
    files = ["report.md", "metrics.csv", "alpha_path.csv", "weights_by_group.csv",
             *plots, *extra_files]
    (out / "report.md").write_text(_report_markdown(result, args, plots, files),
                                   encoding="utf-8")
    return files


def _plots(result, args, out):
    """Write the three figures; without matplotlib, write none and say so."""
    try:
        import matplotlib
    except ImportError:
        result.problem.notes.append(
            "plots skipped: matplotlib is not installed "
            "(pip install 'sklearn-fairif[report]')")
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    with plt.rc_context({"figure.dpi": 110, "font.size": 9}):
        fig = _plot_alpha_path(plt, result, args)
        fig.savefig(out / "accuracy_vs_fairness.png", bbox_inches="tight")
        plt.close(fig)
        written.append("accuracy_vs_fairness.png")
        fig = _plot_gap_and_accuracy(result)
        fig.savefig(out / "alpha_path.png", bbox_inches="tight")
        plt.close(fig)
        written.append("alpha_path.png")
        fig = _plot_weights(plt, result)
        fig.savefig(out / "weights_by_group.png", bbox_inches="tight")
        plt.close(fig)
        written.append("weights_by_group.png")
    return written


def _gap_label(args, n_groups, where="validation"):
    name, formula = _GAP_NAMES[args.objective]
    if n_groups == 2:
        return f"{where} {name}: {formula} (lower is fairer)"
    return (f"{where} gap: mean |group rate - overall rate| of the "
            f"{args.objective} rates (lower is fairer)")


def _plot_alpha_path(plt, result, args):
    if result.path_kind == "crossfit":
        return _plot_crossfit_tradeoff(plt, result, args)
    path, erm = result.path, result.erm_val
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.axhspan(erm["val_accuracy"] - args.tol, 1.0, color="tab:green", alpha=0.08,
               lw=0, label=f"accuracy within tol={args.tol:g} of ERM")
    ax.plot(path["val_gap"], path["val_accuracy"], "o-", color="tab:blue",
            label="FairIF, one point per alpha")
    for row in path.itertuples():
        ax.annotate(f"{row.alpha:g}", (row.val_gap, row.val_accuracy),
                    textcoords="offset points", xytext=(5, -10), fontsize=7,
                    color="tab:blue")
    chosen = path[path["chosen"]].iloc[0]
    ax.plot(chosen["val_gap"], chosen["val_accuracy"], "o", ms=14, mfc="none",
            mec="tab:red", mew=2, label=f"chosen: alpha={chosen['alpha']:g}")
    ax.plot(erm["val_gap"], erm["val_accuracy"], "*", ms=14, color="black",
            label="ERM (no reweighting)")
    accuracies = [*path["val_accuracy"], erm["val_accuracy"]]
    gaps = [*path["val_gap"], erm["val_gap"]]
    span = max(max(accuracies) - min(accuracies), 2 * args.tol, 0.01)
    ax.set_ylim(min(accuracies) - 0.25 * span, max(accuracies) + 0.25 * span)
    ax.set_xlim(left=min(0.0, min(gaps)) - 0.02 * max(gaps),
                right=1.1 * max(gaps) + 1e-3)
    ax.set_xlabel(_gap_label(args, result.problem.s_val.nunique()))
    ax.set_ylabel("validation accuracy")
    ax.set_title(f"Accuracy vs fairness over alpha ({len(result.problem.y_val):,} "
                 "validation rows)\nsmaller alpha = stronger reweighting; "
                 "up and left is better", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def _plot_crossfit_tradeoff(plt, result, args):
    """Predicted held-out accuracy change against predicted held-out gap."""
    path = result.path[np.isfinite(result.path["heldout_gap"])]
    gaps, changes = path["heldout_gap"], path["heldout_utility_change"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    span = max(changes.max() - changes.min(), 2 * args.tol, 0.01)
    low = min(changes.min(), -args.tol) - 0.25 * span
    high = max(changes.max(), 0.0) + 0.25 * span
    ax.axhspan(-args.tol, high, color="tab:green", alpha=0.08, lw=0,
               label=f"accuracy change within tol={args.tol:g}")
    ax.axhline(0.0, color="black", lw=0.8, ls=":", label="ERM (no change)")
    ax.plot(gaps, changes, "o-", color="tab:blue",
            label="FairIF, one point per candidate alpha")
    chosen = path[path["chosen"]].iloc[0]
    ax.plot(chosen["heldout_gap"], chosen["heldout_utility_change"], "o", ms=14,
            mfc="none", mec="tab:red", mew=2,
            label=f"chosen: alpha={chosen['alpha']:.3g}")
    ax.set_ylim(low, high)
    left, right = min(0.0, gaps.min()) - 0.02 * gaps.max(), 1.1 * gaps.max() + 1e-3
    ax.set_xlim(left, right)
    for x, y, text in _point_labels(path, (left, right), (low, high)):
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, -10),
                    fontsize=7, color="tab:blue")
    ax.set_xlabel(_gap_label(args, result.problem.s_val.nunique(),
                             "predicted held-out"))
    ax.set_ylabel("predicted change of held-out accuracy")
    ax.set_title("Accuracy vs fairness over alpha, cross-fitted on "
                 f"{len(result.problem.y_val):,} validation rows\nsmaller alpha = "
                 "stronger reweighting; up and left is better", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def _point_labels(path, xlim, ylim):
    """Return ``[(gap, change, text)]``: the alpha labels that do not overlap.

    Sixteen candidates often crowd where the weights stop moving; a label
    that would overlap one already placed (the chosen alpha's first, then from
    the largest alpha down) is left out: the report's table has every value.
    Boxes are estimated in axes fractions for 7-point text under the point.
    """
    def box(x, y, text):
        fx = (x - xlim[0]) / (xlim[1] - xlim[0])
        fy = (y - ylim[0]) / (ylim[1] - ylim[0])
        return fx, fx + 0.012 * (len(text) + 1), fy - 0.045, fy

    rows = sorted(path.itertuples(), key=lambda r: (not r.chosen, -r.alpha))
    placed, labels = [], []
    for r in rows:
        text = f"{r.alpha:.3g}"
        b = box(r.heldout_gap, r.heldout_utility_change, text)
        if any(b[0] < p[1] and p[0] < b[1] and b[2] < p[3] and p[2] < b[3]
               for p in placed):
            continue
        placed.append(b)
        labels.append((r.heldout_gap, r.heldout_utility_change, text))
    return labels


def _plot_gap_and_accuracy(result):
    """Plot the validation gap and accuracy against alpha (AlphaPathDisplay)."""
    from .. import AlphaPathDisplay

    problem = result.problem
    display = AlphaPathDisplay.from_estimator(result.clf, X_val=problem.X_val,
                                              y_val=problem.y_val)
    return display.figure_


def _plot_weights(plt, result):
    table = result.weights
    problem = result.problem
    groups = list(dict.fromkeys(table["group"]))
    labels = list(problem.class_names)
    colors = ["tab:orange", "tab:blue"]

    def wrap(text):  # long group or label names break over lines
        return textwrap.fill(str(text), 14)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    width = 0.38
    x = np.arange(len(groups))
    for j, label in enumerate(labels):
        cell = table[table["label"] == label].set_index("group").reindex(groups)
        bars = ax1.bar(x + (j - 0.5) * width, cell["mean_weight"], width,
                       color=colors[j], label=label)
        for bar, rows in zip(bars, cell["rows"], strict=True):
            height = bar.get_height()
            if not np.isfinite(height):  # an empty cell
                continue
            centre = bar.get_x() + width / 2
            ax1.annotate(f"{height:.2f}", (centre, height), xytext=(0, 2),
                         textcoords="offset points", ha="center", fontsize=8)
            ax1.annotate(f"n={int(rows):,}", (centre, 0), xytext=(0, 3),
                         textcoords="offset points", ha="center", fontsize=7,
                         color="white")
    ax1.axhline(1.0, color="black", lw=0.8, ls="--", label="no reweighting (1)")
    rotation = 30 if len(groups) > 4 else 0
    ax1.set_xticks(x, [wrap(g) for g in groups], rotation=rotation)
    ax1.set_ylabel("mean FairIF weight")
    ax1.set_title(f"Mean weight per {problem.sensitive} and {problem.target}",
                  fontsize=9)
    ax1.set_ylim(0, 1.15 * max(1.0, float(table["mean_weight"].max())))
    ax1.legend(title=problem.target, fontsize=7, title_fontsize=7, ncol=3,
               loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)

    names = [f"{wrap(g)}\n{wrap(label)}"
             for g, label in zip(table["group"], table["label"], strict=True)]
    x2 = np.arange(len(names))
    ax2.bar(x2 - 0.2, 100 * table["share_of_rows"], 0.4, color="0.7",
            label="share of training rows")
    ax2.bar(x2 + 0.2, 100 * table["share_of_weight"], 0.4, color="tab:purple",
            label="share of FairIF weight")
    ax2.set_xticks(x2, names, fontsize=7, rotation=30 if len(names) > 6 else 0)
    ax2.set_ylabel("% of the training set")
    ax2.set_title(f"Share of the training set per {problem.sensitive} and "
                  f"{problem.target}", fontsize=9)
    top = 100 * float(max(table["share_of_rows"].max(),
                          table["share_of_weight"].max()))
    ax2.set_ylim(0, 1.3 * top)  # headroom for the legend
    ax2.legend(fontsize=7, ncol=2, loc="upper center", frameon=False)
    fig.suptitle("Who was reweighted (training rows; their groups are used only "
                 "for this summary)", fontsize=9)
    fig.tight_layout()
    return fig


def _markdown_table(frame, float_format="{:.3f}", index=True):
    """Render a table with :meth:`pandas.DataFrame.to_markdown`.

    Cells are formatted first (floats to ``float_format``, counts with thousands
    separators, the ``chosen`` flag as **yes**), so the layout is pandas'. Without
    the optional ``tabulate`` package that to_markdown needs, the plain-text
    table goes in a code block instead.
    """
    frame = frame.reset_index() if index else frame

    def cell(v):
        if isinstance(v, bool | np.bool_):
            return "**yes**" if v else ""
        if isinstance(v, float | np.floating):
            return float_format.format(v)
        if isinstance(v, int | np.integer):
            return f"{v:,}"
        return str(v)

    shown = frame.map(cell) if hasattr(frame, "map") else frame.applymap(cell)
    shown.columns = [str(c) for c in shown.columns]
    try:
        return shown.to_markdown(index=False, disable_numparse=True)
    except ImportError:
        return "```\n" + shown.to_string(index=False) + "\n```"


def _report_markdown(result, args, plots, files):
    from .. import __version__

    p = result.problem
    command = "fairif " + " ".join(args.argv)
    lines = [
        f"# FairIF report: {p.title}",
        "",
        f"`{command}` (sklearn-fairif {__version__}, "
        f"{time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "FairIF fits the model once without weights (**ERM**), estimates with "
        "influence functions how up-weighting each training row would move the "
        "fairness gaps measured on the validation rows, solves for weights that "
        "close those gaps, and refits. Only the validation rows need group labels.",
        "",
        "## Data",
        "",
        "| part | rows | group labels |",
        "|---|---|---|",
        f"| training | {len(p.y_train):,} | held back: used only for the 'who was "
        "reweighted' summary below |",
        f"| validation | {len(p.y_val):,} | used by FairIF to measure the gaps |",
    ]
    if p.eval_part == "test":
        lines.append(f"| test | {len(p.y_test):,} | used only to evaluate |")
    lines += [
        "",
        f"- target: `{p.target}`, positive class `{p.class_names[1]}`, negative "
        f"class `{p.class_names[0]}`",
        f"- sensitive attribute: `{p.sensitive}`, groups "
        + ", ".join(f"`{g}`" for g in sorted(p.s_val.unique()))
        + " (never a feature of the model)",
        f"- features ({len(p.features)}): "
        + ", ".join(f"`{c}`" for c in p.features),
        f"- model: {_model_description(args)}; objective `{args.objective}`; "
        + _alpha_setting(result, args),
    ]
    lines += [f"- note: {note}" for note in p.notes]
    lines += [
        "",
        f"## Result on the {p.eval_part} set",
        "",
        _markdown_table(result.table.rename(columns=_METRIC_COLUMNS)),
        "",
        "Acc is accuracy. AD, AOD, EOD and DP are the accuracy, average-odds "
        "(mean of the TPR and FPR gaps), equal-opportunity (TPR gap) and "
        "demographic-parity (selection-rate gap) differences between the groups: "
        "0 is perfectly fair, lower is fairer.",
        "",
        *_summary_lines(result, args),
        "",
    ]
    if p.eval_part == "validation":
        lines += ["**These numbers are on the validation rows that FairIF used to "
                  "choose its weights, so they are optimistic; pass "
                  "--test-fraction to hold out a test set.**", ""]
    for name, report in result.reports.items():
        lines += [f"### Per-group rates: {name}", "",
                  _markdown_table(report.rename(columns={
                      "count": "rows", "tpr": "TPR", "tnr": "TNR",
                      "selection_rate": "selection rate"})), ""]
    lines += _choosing_alpha_markdown(result, args, plots)
    lines += [
        "## Who was reweighted",
        "",
        "Mean FairIF weight (mean 1 over all training rows) per group and label "
        "of the training rows. FairIF never saw these groups; they are used here "
        "only to explain the weights, as in the FairIF paper's sample-weight "
        "study. A mean above 1 means FairIF made those rows count more.",
        "",
    ]
    if "weights_by_group.png" in plots:
        lines += ["![weights by group](weights_by_group.png)", ""]
    shown = result.weights.rename(columns={
        "group": p.sensitive, "label": p.target, "mean_weight": "mean weight",
        "median_weight": "median weight", "zero_weight_rows": "rows with weight 0",
        "share_of_rows": "share of rows", "share_of_weight": "share of weight"})
    lines += [_markdown_table(shown, index=False, float_format="{:.3f}"), "",
              f"Weights overall: min {result.clf.sample_weight_.min():.2f}, max "
              f"{result.clf.sample_weight_.max():.2f}; "
              f"{int((result.clf.sample_weight_ == 0).sum()):,} rows got weight 0.",
              ""]
    if args.command == "fit":
        lines += [
            "## Using the saved model",
            "",
            "```python",
            "import joblib",
            "import pandas as pd",
            "",
            f"model = joblib.load({str(args.model_out)!r})",
            "X = pd.read_csv('new_rows.csv')[model.feature_names_in_]",
            "model.predict(X)  # no group labels needed",
            "```",
            "",
        ]
    lines += ["## Files", "", *[f"- `{name}`" for name in files], ""]
    return "\n".join(lines)


def _fallback_refits(path):
    """Say what the fallback refitted: its value, and larger ones if it lost."""
    alphas = np.sort(path["alpha"])
    if len(alphas) == 1:
        return f"one refit, of the fallback alpha={alphas[0]:g}"
    return (f"the fallback alpha={alphas[0]:g} lost more than --tol of "
            f"validation accuracy, so {len(alphas) - 1} larger values were "
            "refitted too")


def _alpha_setting(result, args):
    if result.path_kind == "crossfit":
        alphas = result.path["alpha"]
        return (f"alpha: auto (cross-fitted over {len(alphas)} candidates, "
                f"{alphas.min():.3g} to {alphas.max():.3g})")
    if result.path_kind == "fallback":
        return f"alpha: auto (could not cross-fit: alpha={result.clf.alpha_:g})"
    return f"alpha tried: {', '.join(f'{a:g}' for a in args.alpha)}"


_PRICE = ("`alpha` is the price of moving weights away from 1: small values "
          "reweight hard to close the validation gap, large values stay close to "
          "ERM. ")


def _choosing_alpha_markdown(result, args, plots):
    """Return the report's "Choosing alpha" section, for the path's kind."""
    gap_name = _GAP_NAMES[args.objective][0]
    lines = ["## Choosing alpha (validation set)", ""]
    if result.path_kind == "crossfit":
        return lines + _crossfit_markdown(result, args, plots, gap_name)
    if result.path_kind == "fallback":
        intro = ("With `--alpha auto` FairIF chooses alpha by cross-fitting on the "
                 f"validation set, but it could not here ({_FALLBACK_REASON})"
                 f": it used alpha={result.clf.alpha_:g} "
                 f"({_fallback_refits(result.path)}). Pass a list of values "
                 "(`--alpha 0.01,0.1,1`) to choose among refits.")
    else:
        intro = ("FairIF computes the influence once and refits once per alpha, "
                 f"then keeps the alpha with the smallest validation {gap_name} "
                 "among those whose validation accuracy is within `--tol` "
                 f"({args.tol:g}) of ERM's.")
    lines += [_PRICE + intro, ""]
    lines += _plot_lines(plots, (
        "The same path against alpha: the validation gap (left axis) and "
        "accuracy (right axis) of each refit, the accuracy that `--tol` allows "
        "(dashed), the alphas outside it shaded, and the chosen alpha (vertical "
        "line)."))
    path = result.path.rename(columns={
        "val_accuracy": "validation accuracy", "val_gap": f"validation {gap_name}"})
    erm_row = pd.DataFrame([{"alpha": "ERM", "validation accuracy":
                             result.erm_val["val_accuracy"], f"validation {gap_name}":
                             result.erm_val["val_gap"], "chosen": False}])
    path["alpha"] = [f"{a:g}" for a in path["alpha"]]  # 1e-04, not 0.000
    lines += [_markdown_table(pd.concat([erm_row, path]), index=False), ""]
    return lines


def _plot_lines(plots, alpha_path_caption):
    """Return the report's lines for the path figures among ``plots``."""
    lines = []
    if "accuracy_vs_fairness.png" in plots:
        lines += ["![accuracy vs fairness](accuracy_vs_fairness.png)", ""]
    if "alpha_path.png" in plots:
        lines += [alpha_path_caption, "",
                  "![gap and accuracy against alpha](alpha_path.png)", ""]
    return lines


def _crossfit_markdown(result, args, plots, gap_name):
    lines = [
        _PRICE + "With `--alpha auto` (the default) FairIF computes the influence "
        "once and chooses alpha without a refit per candidate: the validation "
        "rows are split into folds; for each fold and candidate, the weights are "
        "solved against the gaps of the other folds and judged on the held-out "
        "fold by first-order predictions of its gap and of its accuracy (at the "
        "predicted margins of its rows). It keeps the candidate with the smallest "
        f"mean predicted held-out {gap_name} among those whose predicted held-out "
        f"accuracy falls by at most `--tol` ({args.tol:g}), then refits once "
        "with it.",
        "",
    ]
    lines += _plot_lines(plots, (
        "The same predictions against alpha: the predicted held-out gap (left "
        "axis) and accuracy change (right axis), each with a band of ± 1 "
        "standard deviation over the folds, `-tol` (dashed), the candidates "
        "outside it shaded, and the chosen alpha (vertical line)."))
    lines += [_markdown_table(_candidate_table(result.path, gap_name), index=False),
              ""]
    if result.path["heldout_gap"].isna().any():
        lines += ["*not scanned*: the scan runs from the largest alpha down and "
                  "stops once smaller alphas are predicted to lose far more "
                  "accuracy than `--tol` allows.", ""]
    refits = pd.DataFrame(
        [result.erm_val, result.chosen_val],
        index=["ERM (unweighted)", result.fairif_name],
    ).rename(columns={"val_accuracy": "validation accuracy",
                      "val_gap": f"validation {gap_name}"})
    refits.index.name = "model"
    lines += ["The chosen alpha refitted, next to ERM, on the validation rows "
              "(in-sample: the weights were fitted to these rows):", "",
              _markdown_table(refits), ""]
    return lines


def _candidate_table(path, gap_name):
    """Return the cross-fitted candidates as report cells: mean ± std over folds."""

    def pm(mean, std, fmt):
        if not np.isfinite(mean):
            return "*not scanned*"
        return f"{fmt.format(mean)} ± {std:.3f}"

    rows = path.itertuples()
    return pd.DataFrame([{
        "alpha": f"{r.alpha:.3g}",
        f"predicted held-out {gap_name}": pm(r.heldout_gap, r.heldout_gap_std,
                                             "{:.3f}"),
        "predicted held-out accuracy change": pm(
            r.heldout_utility_change, r.heldout_utility_change_std, "{:+.3f}"),
        "admissible": ("" if not np.isfinite(r.heldout_gap)
                       else "yes" if r.admissible else "no"),
        "chosen": bool(r.chosen),
    } for r in rows])


def _model_description(args):
    if args.model == "mlp":
        return (f"MLP (64-32 ReLU, skorch, Adam, {args.epochs} epochs) after "
                "one-hot encoding and standardising")
    return "logistic regression after one-hot encoding and standardising"
