"""The ``demo`` and ``fit`` commands and the argument parser."""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from ._common import _DATASETS, AUTO, OBJECTIVES, CLIError
from ._data import _csv_problem, _demo_problem
from ._outputs import check_outputs
from ._report import _print_result, _write_report
from ._run import _logger, _run


def demo(args):
    """ERM vs FairIF on a bundled data set; writes the report folder."""
    check_outputs(args, {}, save_model=False)
    problem = _demo_problem(args)
    return _finish(problem, args)


def fit(args):
    """ERM vs FairIF on a CSV file; saves the model and writes the report."""
    if args.model_out is None:
        args.model_out = Path(args.out) / "model.joblib"
    # Before reading anything: a bad --out must not cost a fit.
    check_outputs(args, {"--csv": args.csv, "--val-csv": args.val_csv},
                  save_model=True)
    problem = _csv_problem(args)
    return _finish(problem, args, save_model=True)


def _finish(problem, args, save_model=False):
    result = _run(problem, args)
    _print_result(result, args)
    out = Path(args.out)
    extra = []
    if save_model:
        import joblib

        from ._models import LabelledClassifier

        model_out = Path(args.model_out)
        model_out.parent.mkdir(parents=True, exist_ok=True)
        # The saved model predicts the CSV's own labels, not FairIF's 0/1.
        joblib.dump(LabelledClassifier(result.clf, problem.class_values), model_out)
        extra.append(model_out.name if model_out.parent == out else str(model_out))
    n_notes = len(problem.notes)
    files = _write_report(result, args, out, extra)
    for note in problem.notes[n_notes:]:  # e.g. plots skipped
        _logger(args.quiet)(f"note: {note}")
    _logger(args.quiet)(f"\nReport: {out / 'report.md'} ({', '.join(files[1:])})")
    return result


# ---------------------------------------------------------------------- main
def _alpha(text):
    """``--alpha``: ``"auto"`` (as the library spells it), or numbers > 0.

    Returns ``"auto"`` or a tuple of floats (one value is a list of one).
    """
    if text == AUTO:
        return AUTO
    parts = [v.strip() for v in text.split(",")]
    if len(parts) > 1 and AUTO in parts:
        raise argparse.ArgumentTypeError(
            f"'auto' cannot be combined with numbers, got {text!r}")
    expected = f"expected 'auto', a number or comma-separated numbers, got {text!r}"
    if text.strip().lower() == AUTO:  # the library's spelling is case-sensitive
        expected += " (write auto in lower case)"
    try:
        values = [float(v) for v in parts if v]
    except ValueError:
        raise argparse.ArgumentTypeError(expected) from None
    if not values:
        raise argparse.ArgumentTypeError(expected)
    if any(not 0 < v < np.inf for v in values):  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"alpha values must be finite and > 0, got {text!r}")
    return tuple(values)


def _number(convert, accept, noun, expected):
    """Make an argparse ``type``: ``convert(text)``, which must satisfy ``accept``.

    ``accept`` is written so that NaN fails it.
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {noun}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


_fraction = _number(float, lambda v: 0 <= v < 1, "a fraction", "a fraction in [0, 1)")
# A validation split of no rows would leave FairIF nothing to measure.
_positive_fraction = _number(float, lambda v: 0 < v < 1, "a fraction",
                             "a fraction in (0, 1)")
_non_negative = _number(float, lambda v: 0 <= v < np.inf, "a number",
                        "a finite number >= 0")
# The estimator's tol: an accuracy drop, at most all of it.
_accuracy_drop = _number(float, lambda v: 0 <= v <= 1, "a number",
                         "a number in [0, 1]")
_positive_int = _number(int, lambda v: v >= 1, "an integer", "an integer >= 1")
# numpy's seeds: 0 <= seed < 2**32.
_seed = _number(int, lambda v: 0 <= v < 2**32, "an integer",
                "an integer in [0, 4294967295]")


def _add_common(p):
    model = p.add_argument_group("model")
    model.add_argument("--model", choices=["logreg", "mlp"], default="logreg",
                       help="logistic regression (default) or a small skorch MLP "
                            "(needs sklearn-fairif[torch])")
    model.add_argument("--objective", choices=list(OBJECTIVES),
                       default="equalized_odds", metavar="NAME",
                       help="which group rates to equalise on the validation set: "
                            + ", ".join(OBJECTIVES)
                            + " (default: equalized_odds, i.e. TPR and TNR)")
    model.add_argument("--alpha", type=_alpha, default=AUTO,
                       metavar="auto|A|A,B,...",
                       help="auto: chosen by cross-fitting on the validation set, "
                            "then one refit; one number: that alpha; "
                            "comma-separated numbers: one refit each, the fairest "
                            "within --tol kept (default: auto)")
    model.add_argument("--tol", type=_accuracy_drop, default=0.01,
                       help="validation-accuracy loss allowed when choosing alpha "
                            "(auto: predicted on held-out folds; default: 0.01)")
    model.add_argument("--damping", type=_non_negative, default=None,
                       help="Hessian damping (default: FairIFClassifier's, which "
                            "adapts it to the model)")
    model.add_argument("--epochs", type=_positive_int, default=20,
                       help="training epochs of --model mlp (default: 20)")
    run = p.add_argument_group("run")
    run.add_argument("--out", default="fairif_report",
                     help="report folder (default: ./fairif_report)")
    run.add_argument("--seed", type=_seed, default=0,
                     help="random seed of the splits and models (default: 0)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the files of an earlier run in --out (and "
                          "--model-out); never an input file")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars and no output except errors")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like the others."""

    def error(self, message):
        print(f"fairif: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _parser():
    parser = _Parser(
        prog="fairif",
        description="Fairer classifiers by influence-function reweighting "
                    "(FairIF): compare the unweighted model (ERM) with FairIF "
                    "and write a report.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "demo", help="ERM vs FairIF on a bundled data set",
        description="ERM vs FairIF on a bundled data set (60% training rows "
                    "without group labels, 20% validation rows with them, 20% "
                    "test rows).")
    p.add_argument("--dataset", choices=list(_DATASETS), default="adult",
                   help="bundled data set (default: adult)")
    _add_common(p)
    p = sub.add_parser(
        "fit", help="ERM vs FairIF on your own CSV; saves the model",
        description="ERM vs FairIF on your own CSV. Categorical columns are "
                    "one-hot encoded and numeric ones imputed and standardised; "
                    "the sensitive column is never a feature: FairIF reads it on "
                    "the validation rows only (and the report uses it to "
                    "evaluate and to explain the weights).")
    data = p.add_argument_group("data")
    data.add_argument("--csv", required=True, help="the data, one row per sample")
    data.add_argument("--target", required=True, help="binary target column")
    data.add_argument("--sensitive", required=True,
                      help="sensitive attribute column (two or more groups)")
    data.add_argument("--positive-label", default=None,
                      help="the favourable target value (default: 1/True, else "
                           "the last value in sorted order)")
    data.add_argument("--drop", default=None,
                      help="comma-separated columns to leave out of the features")
    data.add_argument("--categorical", default=None, metavar="COL,...",
                      help="comma-separated columns to one-hot encode even though "
                           "they hold numbers (codes such as an industry or a "
                           "year)")
    val = data.add_mutually_exclusive_group()
    val.add_argument("--val-fraction", type=_positive_fraction, default=0.2,
                     help="rows of --csv used as validation set (default: 0.2)")
    val.add_argument("--val-csv", default=None,
                     help="a separate validation file with the same columns")
    data.add_argument("--test-fraction", type=_fraction, default=0.2,
                      help="rows of --csv held out to evaluate (default: 0.2; 0 "
                           "evaluates on the validation rows)")
    data.add_argument("--model-out", default=None,
                      help="where to save the fitted model (default: "
                           "<out>/model.joblib)")
    _add_common(p)
    return parser


def _one_line(text):
    return " ".join(str(text).split())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fairif: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Entry point of ``python -m sklearn_fairif`` and the ``fairif`` script.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success; 2 on bad input or any failure, after one
        ``fairif: error:`` line on stderr (no traceback); 130 when interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code
    args.argv = argv
    commands = {"demo": demo, "fit": fit}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        # The summary explains this case in its own words.
        warnings.filterwarnings("ignore", message="No alpha kept", category=UserWarning)
        warnings.showwarning = _show_warning
        try:
            commands[args.command](args)
        except CLIError as exc:
            print(f"fairif: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("fairif: error: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - never a raw traceback
            print(f"fairif: error: {type(exc).__name__}: {_one_line(exc)} "
                  "(unexpected; please report it)", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
