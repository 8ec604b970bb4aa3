"""The LightningModule: shared trunk + per-source heads, trained by Algorithm 1."""

from __future__ import annotations

from typing import Any, Mapping

import pytorch_lightning as pl
import torch

from mtl_music.paper import SELF_SOURCE
from mtl_music.training.data import JOINT
from mtl_music.training.losses import LossWeighting, kl_to_targets, same_track_loss


class MultiSourceModule(pl.LightningModule):
    """Holds a :class:`~mtl_music.models.MultiSourceNetwork` and trains it on batches of
    :class:`~mtl_music.training.data.TrainSteps`.

    Parameters of sources that a step did not draw are left exactly as they were: their
    gradients are set to ``None`` before the optimiser step, so Adam applies neither
    weight decay nor momentum to them (R5.2).

    The checkpoint is self-contained for transfer evaluation: the hyper-parameters rebuild
    the network, and the training split's per-band statistics are buffers
    (``band_mean``, ``band_std``, shape ``(n_mels,)``) used by :meth:`standardize`. It also
    carries what each head's outputs mean (:attr:`source_vocabularies`, saved under the
    checkpoint key ``source_vocabularies``), for explanations (paper Fig. 16).

    ``fold_steps > 1`` (``trainer.fold_steps``): a training batch is a list of consecutive steps'
    batches, each trained with its own optimiser step inside one ``training_step`` (manual
    optimisation), so Lightning's per-step overhead is paid once per fold. The arithmetic is the
    automatic path's, in the same order: the weights are bit-identical.
    """

    def __init__(
        self,
        *,
        arch: Mapping[str, Any],
        trunk: Mapping[str, Any],
        sources: Mapping[str, int],
        frontend: Mapping[str, Any],
        optim: Mapping[str, Any],
        loss_weighting: str = "equal",
        channels_last: bool = False,
        crop_frames: int = 216,
        data_name: str = "",
        source_categories: Mapping[str, str] | None = None,
        seed: int = 0,
        fold_steps: int = 1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = int(fold_steps) <= 1
        from mtl_music.models import build_network

        n_mels = int(frontend["n_mels"])
        self.network = build_network(
            arch=_as_cfg(arch), trunk=_as_cfg(trunk), sources=dict(sources), in_channels=2,
            n_mels=n_mels, crop_frames=crop_frames,
        )
        self.source_names = list(sources)
        self.weighting = LossWeighting(loss_weighting, self.source_names)
        self.register_buffer("band_mean", torch.zeros(n_mels))
        self.register_buffer("band_std", torch.ones(n_mels))
        self.channels_last = channels_last
        if channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        self._active: set[str] = set()
        self._ids_of_source: dict[str, set[int]] = {}
        #: source -> :class:`~mtl_music.sources.vocabulary.SourceVocabulary` (empty for
        #: checkpoints written before vocabularies were stored).
        self.source_vocabularies: dict = {}

    # ----------------------------------------------------------------- helpers
    def set_band_statistics(self, mean, std) -> None:
        """Store the training split's per-band mean and std ((n_mels,) each)."""
        self.band_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.band_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def set_source_vocabularies(self, vocabularies: Mapping[str, Any]) -> None:
        """What each source head's outputs mean (``None`` entries, e.g. ``self``, are dropped)."""
        self.source_vocabularies = {name: v for name, v in vocabularies.items() if v is not None}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["source_vocabularies"] = {name: v.to_state() for name, v in self.source_vocabularies.items()}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        from mtl_music.sources.vocabulary import SourceVocabulary

        states = checkpoint.get("source_vocabularies") or {}
        self.source_vocabularies = {name: SourceVocabulary.from_state(state) for name, state in states.items()}

    def standardize(self, mel_db: torch.Tensor) -> torch.Tensor:
        """(…, T, n_mels) dB-mel -> standardised with the training statistics."""
        return (mel_db - self.band_mean) / self.band_std

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """fc-feature of every branch, concatenated: (B, d·m) or (B, d)."""
        return self.network.representation(self._input(x))

    def head_logits(self, x: torch.Tensor, *, sources) -> dict[str, torch.Tensor]:
        """``{source: (B, k) logits}`` of non-self heads from one trunk pass (explanations)."""
        return self.network.forward_all(self._input(x), sources=list(sources))

    def _source_param_ids(self, source: str) -> set[int]:
        ids = self._ids_of_source.get(source)
        if ids is None:
            params = list(self.network.source_parameters(source)) + self.weighting.source_parameters(source)
            ids = {id(p) for p in params}
            self._ids_of_source[source] = ids
        return ids

    # ---------------------------------------------------------------- training
    def on_train_epoch_start(self) -> None:
        self._source_loss_sums: dict[str, torch.Tensor] = {}
        self._source_loss_counts: dict[str, int] = {}
        # Dropout draws from torch's global generator, which a checkpoint does not restore:
        # seeding it per epoch makes a run resumed from an epoch-end checkpoint bit-identical
        # to an uninterrupted one. Ranks differ on purpose (their batches differ too).
        torch.manual_seed(int(self.hparams.seed) * 1_000_003 + self.current_epoch * 101 + self.global_rank)

    def compile_network(self, *, mode: str | None = None, backend: str = "inductor") -> None:
        """``torch.compile`` the training passes (``trainer.compile``): one graph per source's
        path (trunk, branch, head), one for the ``self`` pair pass, one for the joint pass.

        Static shapes (training batches are all ``data.batch_size``); ``mode="reduce-overhead"``
        adds CUDA-graph capture. Validation and transfer run the eager network (their batch sizes
        vary), and the state-dict keys are unchanged.
        """
        import torch._dynamo

        # Each source is a guard on the same forward: room for every source's graph.
        limit = 2 * len(self.source_names) + 4
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, limit)
        options = dict(dynamic=False, mode=mode, backend=backend)
        self._compiled = {
            "forward": torch.compile(self.network.forward, **options),
            "forward_self": torch.compile(self.network.forward_self, **options),
            "forward_all": torch.compile(self.network.forward_all, **options),
        }

    def _pass(self, name: str):
        """The network's pass ``name``: compiled in training when :meth:`compile_network` ran."""
        compiled = getattr(self, "_compiled", None)
        return compiled[name] if compiled and self.training else getattr(self.network, name)

    def _source_loss(self, batch: dict, source: str) -> torch.Tensor:
        if source == SELF_SOURCE:
            logits = self._pass("forward_self")(self._input(batch["x"]), self._input(batch["x_right"]))
            return same_track_loss(logits, batch["same"])
        logits = self._pass("forward")(self._input(batch["x"]), source=source)
        return kl_to_targets(logits, batch["z"])

    def _losses(self, batch: dict) -> dict[str, torch.Tensor]:
        source = batch["source"]
        if source != JOINT:
            return {source: self._source_loss(batch, source)}
        # Joint sampling (R5.3): one shared-trunk pass for every labelled head.
        labelled = [s for s in self.source_names if s != SELF_SOURCE]
        losses: dict[str, torch.Tensor] = {}
        if labelled:
            logits = self._pass("forward_all")(self._input(batch["x"]), sources=labelled)
            losses = {s: kl_to_targets(logits[s], batch["z"][s]) for s in labelled}
        if SELF_SOURCE in self.source_names:
            losses[SELF_SOURCE] = self._source_loss(batch, SELF_SOURCE)
        return losses

    def training_step(self, batch: dict | list[dict], batch_idx: int) -> torch.Tensor | None:
        if not self.automatic_optimization:
            return self._train_fold(batch)
        losses = self._losses(batch)
        self._active = set(losses)
        total = sum(self.weighting(s, loss) for s, loss in losses.items())
        self._add_source_losses(losses, batch["x"].shape[0])
        self.log("train/loss", total.detach(), on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=batch["x"].shape[0])
        return total

    def _train_fold(self, batches: list[dict]) -> None:
        """Consecutive steps, each as the automatic path runs it: forward, zero_grad, backward,
        :meth:`on_before_optimizer_step` (called by Lightning's optimiser step), Adam step."""
        optimizer = self.optimizers()
        totals, n_total = [], 0
        for batch in batches:
            losses = self._losses(batch)
            self._active = set(losses)
            total = sum(self.weighting(s, loss) for s, loss in losses.items())
            # Lightning's automatic path runs backward and the step outside autocast.
            with torch.autocast(self.device.type, enabled=False):
                optimizer.zero_grad(set_to_none=True)
                self.manual_backward(total)
                optimizer.step()
            n = batch["x"].shape[0]
            self._add_source_losses(losses, n)
            totals.append(total.detach() * n)
            n_total += n
        # One log call per fold: each ``self.log`` costs Lightning ~1-3 ms of host time, a GPU step's worth.
        self.log("train/loss", torch.stack(totals).sum() / n_total, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=n_total)
        return None

    def _add_source_losses(self, losses: dict[str, torch.Tensor], n: int) -> None:
        """Sums each source's loss over the epoch's crops on the device; logged once an epoch
        (:meth:`on_train_epoch_end`) rather than each step, for the cost of ``self.log``."""
        for s, loss in losses.items():
            self._source_loss_sums[s] = self._source_loss_sums.get(s, 0) + loss.detach() * n
            self._source_loss_counts[s] = self._source_loss_counts.get(s, 0) + n

    def on_train_epoch_end(self) -> None:
        # Crop-weighted means over the epoch's steps of each source: train/<source>_loss.
        for s, total in self._source_loss_sums.items():
            self.log(f"train/{s}_loss", total / self._source_loss_counts[s], on_step=False, on_epoch=True)

    def on_before_optimizer_step(self, optimizer) -> None:
        # A branch that took no part in this step keeps its exact weights: no weight decay,
        # no Adam moment update (Adam skips parameters whose grad is None).
        if self._active >= set(self.source_names):
            return
        keep: set[int] = set()
        for s in self._active:
            keep |= self._source_param_ids(s)
        if getattr(self, "_all_parameters", None) is None:  # walking the modules each step costs ~0.3 ms
            self._all_parameters = list(self.parameters())
        for p in self._all_parameters:
            if id(p) not in keep:
                p.grad = None

    def on_validation_epoch_start(self) -> None:
        self._val_sums: dict[str, list[torch.Tensor]] = {}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        source = batch["source"]
        n = batch["x"].shape[0]
        loss = self._source_loss(batch, source).detach()
        acc = self._val_sums.setdefault(source, [torch.zeros((), device=loss.device), torch.zeros((), device=loss.device)])
        acc[0] += loss * n
        acc[1] += n

    def on_validation_epoch_end(self) -> None:
        # Track-weighted mean per source; val/loss (the checkpoint monitor) is their mean.
        means = []
        for source in self.source_names:
            if source in self._val_sums:
                total, count = self._val_sums[source]
                mean = total / count
                means.append(mean)
                self.log(f"val/{source}_loss", mean, sync_dist=True)
        if means:
            self.log("val/loss", torch.stack(means).mean(), prog_bar=True, sync_dist=True)

    def configure_optimizers(self):
        o = self.hparams.optim
        return torch.optim.Adam(self.parameters(), lr=float(o["lr"]), weight_decay=float(o["weight_decay"]))


def _as_cfg(value):
    from omegaconf import DictConfig, OmegaConf

    return value if isinstance(value, DictConfig) else OmegaConf.create(dict(value))
