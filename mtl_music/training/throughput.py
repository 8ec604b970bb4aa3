"""How fast a run trains: crops per second and the share of time between steps.

:class:`Throughput` times the training batches of every epoch (not validation, checkpoints or
the transfer evaluation), leaving out the fit's first ``warmup`` batches (compilation, cuDNN
autotuning, allocator warm-up; at most half of a short fit's batches). "Between" is the time from one batch's end to the next one's
start: fetching the batch and Lightning's loop, an upper bound on the wait for data. It keeps
each epoch's timed wall-clock span and crops (``timeline``), so that runs sharing a device can
be added up over the time they really overlapped (:func:`crops_between`). The figures go to
``summary.json`` (``throughput``) and the logger (``train/samples_per_s``).
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch


def batch_samples(batch) -> int:
    """Crops-per-view of a training item: a batch's ``x`` rows, summed over a fold's batches."""
    if isinstance(batch, list):
        return sum(batch_samples(b) for b in batch)
    return int(batch["x"].shape[0])


class Throughput(pl.Callback):
    """Times the run's training batches; :meth:`figures` gives the totals."""

    def __init__(self, *, warmup: int = 5) -> None:
        self.warmup = self._warmup = int(warmup)
        self.samples = 0
        self.seconds = 0.0
        self.between = 0.0
        self.window: list[float] = []
        self.timeline: list[list[float]] = []
        self._seen = 0
        self._epoch_samples = 0
        self._epoch_start: float | None = None
        self._last_end: float | None = None

    @staticmethod
    def _sync(module) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_start(self, trainer, pl_module) -> None:
        batches = trainer.num_training_batches
        if batches != float("inf"):  # a loader without a length: the full warm-up
            epochs = max(1, int(trainer.max_epochs or 1) - int(trainer.current_epoch))
            self._warmup = min(self.warmup, int(batches) * epochs // 2)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = self._last_end = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._seen < self._warmup:
            return
        if self._epoch_start is None:
            self._sync(pl_module)  # the warm-up's queued work is not this window's
            self._epoch_start = time.perf_counter()
            self._epoch_wall = time.time()
            self._epoch_samples = 0
            if not self.window:
                self.window = [self._epoch_wall, self._epoch_wall]
        elif self._last_end is not None:
            self.between += time.perf_counter() - self._last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._seen += 1
        if self._epoch_start is None:
            return
        self._epoch_samples += batch_samples(batch)
        if batch_idx + 1 >= trainer.num_training_batches:  # the epoch's last batch: its queued work counts
            self._sync(pl_module)
        self._last_end = time.perf_counter()
        if batch_idx + 1 >= trainer.num_training_batches:
            self._close_epoch()

    def _close_epoch(self) -> None:
        if self._epoch_start is not None and self._last_end is not None:
            self.seconds += self._last_end - self._epoch_start
            self.samples += self._epoch_samples
            self.window[1] = self._epoch_wall + (self._last_end - self._epoch_start)
            self.timeline.append([self._epoch_wall, self.window[1], self._epoch_samples])
        self._epoch_start = self._last_end = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._close_epoch()  # an epoch cut short (max_steps) ends here
        if self.seconds > 0:
            pl_module.log("train/samples_per_s", self.samples / self.seconds, on_epoch=True, rank_zero_only=True)

    def figures(self) -> dict:
        """``samples`` timed, their ``seconds``, ``samples_per_s``, ``between_share`` of those
        seconds, the wall-clock ``window`` [first timed start, last timed end], the ``timeline``
        ([wall start, wall end, crops] per epoch) and ``warmup_batches``."""
        rate = self.samples / self.seconds if self.seconds > 0 else None
        return {"samples": self.samples, "seconds": self.seconds, "samples_per_s": rate,
                "between_share": self.between / self.seconds if self.seconds > 0 else None,
                "window": self.window, "timeline": self.timeline, "warmup_batches": self._warmup}


def crops_between(timeline, start: float, end: float) -> float:
    """Crops a run trained between wall-clock times ``start`` and ``end``, from its :class:`Throughput`
    timeline (each epoch's crops spread evenly over its span)."""
    total = 0.0
    for first, last, samples in timeline:
        overlap = min(end, last) - max(start, first)
        if overlap > 0 and last > first:
            total += samples * overlap / (last - first)
    return total


__all__ = ["Throughput", "batch_samples", "crops_between"]
