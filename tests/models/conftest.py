"""Shared helpers of the network tests: the shipped arch/trunk configs and small inputs."""

from __future__ import annotations

import pytest
import torch

from mtl_music.config import load_option as load_config
from mtl_music.models.size import ARCH_OPTIONS


@pytest.fixture(scope="session")
def arch_cfgs():
    return {option: load_config("arch", option) for option in ARCH_OPTIONS}


@pytest.fixture(scope="session")
def trunk_cfgs():
    return {option: load_config("trunk", option) for option in ("vgg", "musically_motivated")}


@pytest.fixture
def small_input():
    """A factory of (B, 2, T, M) crops; small T/M keep multi-branch tests fast."""

    def make(batch: int = 3, frames: int = 64, mels: int = 64, seed: int = 0) -> torch.Tensor:
        return torch.randn(batch, 2, frames, mels, generator=torch.Generator().manual_seed(seed))

    return make
