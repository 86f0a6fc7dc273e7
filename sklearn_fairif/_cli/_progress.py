"""Progress lines while FairIF fits (stages, alpha path, network epochs)."""

import contextlib
import io
import sys

# Set while a run shows progress; the skorch callback below calls it.
_epoch_hook = None


class _EpochTicker:
    """A skorch callback (duck-typed, so skorch is not imported here).

    It forwards training begin and epoch ends to :data:`_epoch_hook`; with no
    hook (e.g. in a model loaded later) it does nothing.
    """

    def initialize(self):
        return self

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def on_train_begin(self, net, **kwargs):
        if _epoch_hook is not None:
            _epoch_hook("begin", net.max_epochs)

    def on_epoch_end(self, net, **kwargs):
        if _epoch_hook is not None:
            _epoch_hook("epoch", None)

    def on_train_end(self, net, **kwargs):
        pass

    def on_epoch_begin(self, net, **kwargs):
        pass

    def on_batch_begin(self, net, **kwargs):
        pass

    def on_batch_end(self, net, **kwargs):
        pass

    def on_grad_computed(self, net, named_parameters, **kwargs):
        pass


class _FitProgress(io.TextIOBase):
    """A tqdm bar over FairIF's stages, driven by its ``verbose=1`` lines.

    FairIF prints ``[FairIF] <stage>: <seconds>s`` after each stage; while
    ``stdout`` is redirected here, each such line moves the bar (stage 1, the
    influence, then one refit per alpha) and other lines pass through.
    """

    def __init__(self, alphas, stdout):
        from tqdm.auto import tqdm

        self.alphas, self.stdout, self.buffer = alphas, stdout, ""
        self.refits = 0
        self.bar = tqdm(total=2 + len(alphas), unit="step", leave=False,
                        desc="FairIF: stage 1 (unweighted fit)", file=sys.stderr)
        self.epochs = None

    def write(self, text):
        self.buffer += text
        while "\n" in self.buffer:
            line, self.buffer = self.buffer.split("\n", 1)
            if line.startswith("[FairIF] "):
                self._stage(line[len("[FairIF] "):].rsplit(":", 1)[0])
            else:
                self.stdout.write(line + "\n")
        return len(text)

    def _stage(self, stage):
        if stage.startswith("stage 2"):
            self.refits += 1
        elif not (stage.startswith("stage 1") or stage == "influence"):
            return  # the weight solve takes milliseconds
        if stage.startswith("stage 1"):
            self.bar.set_description("FairIF: influence", refresh=False)
        elif self.refits < len(self.alphas):
            self.bar.set_description(
                f"FairIF: refit {self.refits + 1}/{len(self.alphas)} "
                f"(alpha={self.alphas[self.refits]:g})", refresh=False)
        self.bar.update(1)

    def epoch(self, event, total):
        from tqdm.auto import tqdm

        if event == "begin":
            if self.epochs is None:
                self.epochs = tqdm(total=total, unit="epoch", leave=False,
                                   desc="  training", position=1, file=sys.stderr)
            self.epochs.reset(total=total)
        else:
            self.epochs.update(1)

    def close(self):
        if self.epochs is not None:
            self.epochs.close()
        self.bar.close()
        if self.buffer:  # a last line without its newline
            self.stdout.write(self.buffer)


@contextlib.contextmanager
def _progress(alphas, quiet):
    global _epoch_hook
    if quiet:
        yield
        return
    progress = _FitProgress(alphas, sys.stdout)
    _epoch_hook = progress.epoch
    try:
        with contextlib.redirect_stdout(progress):
            yield
    finally:
        _epoch_hook = None
        progress.close()
