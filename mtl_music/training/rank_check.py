"""The DDP rank check: every rank ends a fit with bit-identical weights, or the run says so."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytorch_lightning as pl
import torch

from mtl_music.models.digest import weights_digest

log = logging.getLogger(__name__)


class RankConsistencyCheck(pl.Callback):
    """After ``fit``, every rank writes the digest of its weights to
    ``<dir>/rank_<r>.digest.json``; rank 0 compares them and writes ``ddp_sync.json``.

    Under DDP all ranks must hold identical weights; a difference means the ranks drew
    different sources at some step (a desynchronised schedule), which this makes visible.
    """

    def __init__(self, dirpath: str | Path) -> None:
        self.dirpath = Path(dirpath)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.dirpath.mkdir(parents=True, exist_ok=True)
        digest = weights_digest(pl_module)
        (self.dirpath / f"rank_{trainer.global_rank}.digest.json").write_text(
            json.dumps({"rank": trainer.global_rank, "digest": digest, "global_step": trainer.global_step})
        )
        if trainer.world_size == 1:
            return
        digests = trainer.strategy.all_gather(_digest_tensor(digest))  # (world, 32) uint8 as int
        if trainer.global_rank == 0:
            rows = [bytes(int(v) for v in row).hex() for row in digests.reshape(trainer.world_size, -1).tolist()]
            same = len(set(rows)) == 1
            (self.dirpath / "ddp_sync.json").write_text(json.dumps({"identical": same, "digests": rows}, indent=1))
            if not same:
                log.error("DDP ranks ended with different weights: %s", rows)


def _digest_tensor(digest: str) -> torch.Tensor:
    return torch.tensor(list(bytes.fromhex(digest)), dtype=torch.int64)
