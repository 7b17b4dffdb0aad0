"""Progress of long inference runs, counted in network evaluations, with an ETA.

A sampler's loop is one compiled function per batch, so a bar over batches moves once
a minute on a CPU (64 CIFAR-10 images at 20 steps are one batch). Models wrap the
network-evaluating function they hand to a compiled sampler in `counted`, which reports
each evaluation from inside the compiled loop (`zoo.backend.host_callback`), and
`ZooModel.run_batched(..., verbose=True)` shows them on an `EvaluationProgress` bar.

A report costs ~20-80 us on a CPU, so only runs with a bar pay it: `Reporting` keeps two
compilations of an inference function, one traced with the reports and one without.
"""

import sys

import keras

from zoo.backend import host_callback

_active = None  # the bar of the run in progress, if any
_tracing_reports = False  # whether the function being traced now should report


def _evaluated():
    if _active is not None:
        _active.evaluated()


def counted(fn):
    """`fn`, reporting each call to the progress bar of the run in progress (if any).
    Wrap the network-evaluating function that a compiled sampler is given."""
    def evaluate(*args, **kwargs):
        if _tracing_reports:
            host_callback(_evaluated)
        return fn(*args, **kwargs)
    return evaluate


class Reporting:
    """An inference function compiled by `compile()` in two variants, chosen per call:
    with the evaluation reports of `counted` while a bar is active, without otherwise
    (each variant compiled at its first use)."""

    def __init__(self, compile):
        self.compile, self.variants = compile, {}

    def __call__(self, *args):
        global _tracing_reports
        reporting = _active is not None
        if reporting not in self.variants:
            self.variants[reporting] = self.compile()
        previous, _tracing_reports = _tracing_reports, reporting
        try:
            return self.variants[reporting](*args)
        finally:
            _tracing_reports = previous


class EvaluationProgress:
    """A bar over a run of `batches` batches, advanced per network evaluation.

    Args:
        batches: int. Batches in the run.
        per_batch: int or None. Network evaluations per batch, when known ahead (fixed-
            step solvers); None (adaptive solvers, ...): estimated from the batches done,
            so the ETA appears after the first batch.
    """

    def __init__(self, batches, per_batch=None):
        self.batches, self.per_batch, self.count, self.done = int(batches), per_batch, 0, 0
        self.bar = keras.utils.Progbar(self._target(), unit_name="evaluation")
        if not sys.stdout.isatty():  # a log file: an update every 30 s, not every 0.05 s
            self.bar.interval = 30.0

    def _target(self):
        if self.per_batch is not None:
            return int(self.per_batch) * self.batches
        if self.done:
            return round(self.count / self.done * self.batches)
        return None

    def evaluated(self):
        self.count += 1
        if self.bar.target is not None and self.count >= self.bar.target:
            self.bar.target = self.count + 1  # an estimate ran short: never "finish" early
        self.bar.update(self.count)

    def batch_done(self):
        self.done += 1
        self.bar.target = self._target() if self.done < self.batches else self.count
        self.bar.update(self.count, finalize=self.done == self.batches)

    def __enter__(self):
        global _active
        _active = self
        return self

    def __exit__(self, *exc):
        global _active
        _active = None
        return False


class _Quiet:
    """`bar(False, ...)`: the same use, no bar."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def batch_done(self):
        pass


def bar(verbose, batches, per_batch=None):
    """`EvaluationProgress(batches, per_batch)` if `verbose`, else a stand-in that shows
    nothing: use it as `with bar(...) as progress: ... progress.batch_done()`."""
    return EvaluationProgress(batches, per_batch) if verbose else _Quiet()
