"""The files a run writes, checked before anything is fitted.

A run never writes over a file it did not create unless ``--overwrite`` is
given, and never over one of its inputs even then. Every check here runs before
the (possibly long) fit, so a bad ``--out`` costs nothing.
"""

import os
from pathlib import Path

from ._common import CLIError

REPORT_FILES = ("report.md", "metrics.csv", "alpha_path.csv", "weights_by_group.csv")
PLOT_FILES = ("accuracy_vs_fairness.png", "alpha_path.png", "weights_by_group.png")


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _same_path(a, b):
    """Whether two paths name the same file (also through links)."""
    try:
        if a.exists() and b.exists():
            return a.samefile(b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _check_creatable(folder, option):
    """``folder`` exists as a writable folder, or can be created."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise CLIError(f"{option} {folder}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {folder}: {probe} is not writable")


def planned_outputs(args, *, save_model):
    """Return the paths the run will write: the report files, then the model."""
    out = Path(args.out)
    names = REPORT_FILES + (PLOT_FILES if _has_matplotlib() else ())
    files = [out / name for name in names]
    if save_model:
        files.append(Path(args.model_out))
    return files


def check_outputs(args, inputs, *, save_model):
    """Refuse, in one line, any output that would lose a file or cannot be written.

    Parameters
    ----------
    args : argparse.Namespace
        With ``out``, ``overwrite`` and, when ``save_model``, ``model_out``.
    inputs : dict of {option: path}
        The files the run reads (``--csv``, ``--val-csv``): never written.
    save_model : bool
        Whether ``--model-out`` is written too.
    """
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is an existing file, not a folder; pass a "
                       "folder for the report")
    _check_creatable(out, "--out")
    files = planned_outputs(args, save_model=save_model)
    if save_model:
        model_out = files[-1]
        if model_out.is_dir():
            raise CLIError(f"--model-out {model_out} is a folder; pass a file name, "
                           "e.g. model.joblib")
        _check_creatable(model_out.parent, "--model-out")
        for report_file in files[:-1]:
            if _same_path(model_out, report_file):
                raise CLIError(f"--model-out {model_out} is also the report's "
                               f"{report_file.name}; choose another file name")
    for path in files:
        for option, source in inputs.items():
            if source is not None and _same_path(path, Path(source)):
                raise CLIError(f"this run would write {path} over its input "
                               f"{option} {source}; choose another --out or "
                               "--model-out (--overwrite never replaces an input)")
    existing = [path for path in files if path.exists() or path.is_symlink()]
    if existing and not args.overwrite:
        shown = ", ".join(str(p) for p in existing[:4])
        more = f" and {len(existing) - 4} more" if len(existing) > 4 else ""
        raise CLIError(f"{shown}{more} already exist(s); pass --overwrite to replace "
                       "them, or choose another --out / --model-out")
    for path in existing:
        if path.is_dir():
            raise CLIError(f"{path} is a folder; the run needs to write a file there")
