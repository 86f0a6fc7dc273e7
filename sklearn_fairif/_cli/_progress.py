"""Progress bars while FairIF fits, driven by the package's log records.

The estimators log structured records on the ``"sklearn_fairif"`` logger: each
carries ``record.fairif``, a dict with an ``"event"`` (``stage_end``,
``train_begin``, ``epoch_end``, ``update``) and its fields. A
:class:`logging.Handler` reads those fields, never the formatted message, so a
reworded message cannot break the bars, and nothing of the command line ends up
inside the fitted (pickled) model.
"""

import contextlib
import logging
import sys

_LOGGER_NAME = "sklearn_fairif"

# Stage names of the "stage_end" events that advance the bar. Kept as text,
# like the ``STAGE_*`` values of sklearn_fairif.utils._logging, which the command
# line may not import (private); the tests check that the two agree.
STAGE_INITIAL = "stage 1 (unweighted fit)"
STAGE_INFLUENCE = "influence"
STAGE_SELECTION = "alpha selection"
STAGE_REFIT = "stage 2 (weighted refit)"


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class _FitProgressHandler(logging.Handler):
    """Progress bars fed by the ``fairif`` fields of the package's log records.

    One bar over FairIF's stages (stage 1, influence, one refit per alpha) and,
    for networks, one over the epochs of the current training. With
    ``alphas="auto"`` there is one refit, of the alpha the cross-fitting
    (a step of its own, not counted) chooses.
    """

    def __init__(self, alphas, *, enabled):
        super().__init__(level=logging.DEBUG)
        self.auto = isinstance(alphas, str)
        # FairIF refits a list from the largest alpha (nearest ERM) down.
        self.alphas = [None] if self.auto else sorted(alphas, reverse=True)
        self.enabled = enabled
        self.refits = 0
        self.bar = None
        self.epochs = None

    # -- the bars are created lazily, so a disabled handler never builds one
    def _stage_bar(self):
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=2 + len(self.alphas), unit="step", leave=False,
                            desc=f"FairIF: {STAGE_INITIAL}", file=sys.stderr,
                            disable=not self.enabled)
        return self.bar

    def emit(self, record):
        fields = getattr(record, "fairif", None)
        if not isinstance(fields, dict):
            return
        try:
            event = fields.get("event")
            if event == "stage_end":
                self._stage(fields.get("stage"))
            elif event == "train_begin":
                self._train_begin(fields.get("max_epochs"))
            elif event == "epoch_end":
                self._epoch_end()
        except Exception:  # a progress bar must never break a fit
            self.handleError(record)

    def _stage(self, stage):
        if stage == STAGE_SELECTION:
            # The chosen alpha's refit follows; the bar does not advance.
            self._stage_bar().set_description("FairIF: refit (chosen alpha)")
            return
        if stage == STAGE_REFIT:
            self.refits += 1
        elif stage not in (STAGE_INITIAL, STAGE_INFLUENCE):
            return  # e.g. the weight solve: milliseconds
        bar = self._stage_bar()
        if stage == STAGE_INITIAL:
            bar.set_description("FairIF: influence", refresh=False)
        elif self.auto and self.refits == 0:
            # Cross-fitting, then the refit (or at once the fallback's refit).
            bar.set_description("FairIF: choosing alpha, then refit", refresh=False)
        elif self.refits < len(self.alphas):
            bar.set_description(
                f"FairIF: refit {self.refits + 1}/{len(self.alphas)} "
                f"(alpha={self.alphas[self.refits]:g})", refresh=False)
        bar.update(1)

    def _train_begin(self, total):
        from tqdm.auto import tqdm

        if self.epochs is None:
            self.epochs = tqdm(total=total, unit="epoch", leave=False,
                               desc="  training", position=1, file=sys.stderr,
                               disable=not self.enabled)
        self.epochs.reset(total=total)

    def _epoch_end(self):
        if self.epochs is not None:
            self.epochs.update(1)

    def close(self):
        for bar in (self.epochs, self.bar):
            if bar is not None:
                bar.close()
        super().close()


@contextlib.contextmanager
def _progress(alphas, quiet, *, enabled=None):
    """Show progress bars on stderr while the block fits FairIF.

    Nothing is shown with ``quiet``, nor when stderr is not a terminal (a log
    file would fill with carriage returns). The handler is attached to the
    package logger for the block only; the logger's level is lowered to DEBUG
    meanwhile, since epochs are DEBUG records.

    ``alphas`` is ``"auto"`` or the list refitted. Yields the handler (None
    when quiet), so tests can inspect it.
    """
    if quiet:
        yield None
        return
    enabled = _stderr_is_terminal() if enabled is None else enabled
    logger = logging.getLogger(_LOGGER_NAME)
    handler = _FitProgressHandler(alphas, enabled=enabled)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
        handler.close()
