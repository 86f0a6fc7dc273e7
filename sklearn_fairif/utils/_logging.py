"""Structured progress records on the ``"sklearn_fairif"`` logger.

Every record the package emits carries a ``fairif`` attribute: a dict with at
least ``"event"`` (one of :data:`EVENTS`) and ``"estimator"`` (``"FairIF"`` or
``"IFFair"``). Handlers — the ``verbose`` one below, the command line's
progress bars — read those fields, never the formatted message, so a message
can change without breaking them.

Events and their extra fields:

``"stage_end"``
    ``stage`` (one of the ``STAGE_*`` names), ``elapsed`` (seconds) and, for
    a refit, ``alpha`` when one is being tried.
``"train_begin"``
    A network starts training: ``max_epochs``.
``"epoch_end"``
    A network finished an epoch: ``epoch``.
``"update"``
    IFFair changed the weights: ``update``, ``epoch`` (or None), ``gaps``,
    ``accuracy``, ``predicted_gap_change``.
"""

import contextlib
import logging
import sys
import time

logger = logging.getLogger("sklearn_fairif")

STAGE_INITIAL = "stage 1 (unweighted fit)"
STAGE_INFLUENCE = "influence"
STAGE_WEIGHTS = "weights"
STAGE_SELECTION = "alpha selection"
STAGE_REFIT = "stage 2 (weighted refit)"
STAGE_TRAINING = "training"
STAGE_UPDATES = "updates"

EVENTS = ("stage_end", "train_begin", "epoch_end", "update")


def emit(event, estimator, message, *, level=logging.INFO, **fields):
    """Log ``message`` with the structured ``fairif`` fields attached."""
    if logger.isEnabledFor(level):
        payload = {"event": event, "estimator": estimator, **fields}
        logger.log(level, "[%s] %s", estimator, message,
                   extra={"fairif": payload})


@contextlib.contextmanager
def timed_stage(times, stage, estimator, **fields):
    """Add the wall time of the block to ``times[stage]`` and log it.

    ``times`` is a plain dict owned by the caller (the estimator's ``fit``
    stores it as ``stage_times_``).
    """
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    times[stage] = times.get(stage, 0.0) + elapsed
    suffix = "" if "alpha" not in fields else f" (alpha={fields['alpha']:g})"
    emit("stage_end", estimator, f"{stage}{suffix}: {elapsed:.3f}s",
         stage=stage, elapsed=elapsed, **fields)


@contextlib.contextmanager
def verbose_logging(verbose):
    """While fitting with ``verbose > 0``, print the package's records.

    They go to standard output, where scikit-learn's own ``verbose`` output
    goes.

    ``verbose=1`` shows stages (INFO); ``verbose >= 2`` also epochs and
    iterations (DEBUG). The handler is removed afterwards, so nothing of it
    stays in a fitted (pickled) model.
    """
    if not verbose:
        yield
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = logging.INFO if verbose == 1 else logging.DEBUG
    handler.setLevel(level)
    previous = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


@contextlib.contextmanager
def progress_bar(desc, verbose):
    """Yield a tqdm bar when ``verbose > 1``, else ``None``."""
    if verbose <= 1:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit="it", leave=False)
    try:
        yield bar
    finally:
        bar.close()
