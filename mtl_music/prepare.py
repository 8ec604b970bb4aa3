"""``python -m mtl_music.prepare data=<dataset>`` — compute a dataset's mel cache (R2.5).

``run(cfg)`` is the plain function (tests, ``mtl_music.train`` and other apps import it); ``main``
is the thin Hydra wrapper that prints the summary. It needs only the ``paths``, ``data`` and
``frontend`` groups of the config, so any app's composed config can be passed.

If ``data.builder`` is set, it names a function ``build(cfg)`` (dotted path) that first writes
the dataset's audio and manifest (the demo corpus uses this).
"""

from __future__ import annotations

import importlib
import logging

from omegaconf import DictConfig

from mtl_music.audio.io import SILENCE_DBFS
from mtl_music.cli import hydra_app

from mtl_music.data.build import PrepareResult, build_cache
from mtl_music.data.cache import cache_dir_for
from mtl_music.data.manifest import dataset_tracks
from mtl_music.audio.mel import mel_settings_from_cfg
from mtl_music.errors import ConfigError

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> PrepareResult:
    """Builds the dataset if it has a builder, then brings its mel cache up to date.

    Returns the :class:`~mtl_music.data.PrepareResult` (cache folder, counts, report).
    """
    data = cfg.data
    if data.get("builder"):
        run_builder(str(data.builder), cfg)
    settings = mel_settings_from_cfg(cfg.frontend)
    tracks = dataset_tracks(data)
    options = data.get("prepare") or {}
    return build_cache(
        tracks,
        cache_dir=cache_dir_for(cfg),
        settings=settings,
        num_workers=int(options.get("num_workers", 2)),
        short_policy=str(options.get("short_policy", "pad")),
        silence_dbfs=float(options.get("silence_dbfs", SILENCE_DBFS)),
        min_frames=int(data.get("crop_frames", 216)),
        dataset_name=str(data.get("name", "")),
    )


def run_builder(dotted: str, cfg: DictConfig) -> None:
    """Imports ``package.module.function`` and calls it with ``cfg``."""
    module_name, _, function_name = dotted.rpartition(".")
    if not module_name:
        raise ConfigError(f"data.builder={dotted!r} must be a dotted path like 'package.module.build'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"data.builder={dotted!r}: cannot import {module_name} ({err}); fix the path or set data.builder=null") from err
    builder = getattr(module, function_name, None)
    if not callable(builder):
        raise ConfigError(f"data.builder={dotted!r}: {module_name} has no function {function_name}; fix the path or set data.builder=null")
    log.info("building dataset '%s' with %s", cfg.data.get("name"), dotted)
    builder(cfg)


@hydra_app("prepare")
def main(cfg: DictConfig) -> None:
    print(run(cfg).summary())


if __name__ == "__main__":
    main()
