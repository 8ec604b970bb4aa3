import os
from pathlib import Path

import pytest

# Tests never reach a W&B server, and never a GPU — except the `cuda`-marked ones, when asked for
# with MTL_TEST_CUDA=1 (benchmarks/gpu_check.sh).
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
if os.environ.get("MTL_TEST_CUDA") != "1":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A data root holding the tiny synthetic dataset ``tiny`` (see tests/helpers/tiny_dataset.py)."""
    from tests.helpers.tiny_dataset import write_tiny_dataset

    root = tmp_path_factory.mktemp("data_root")
    write_tiny_dataset(root / "tiny")
    return root
