"""Datasets and the mel cache: manifests, the one-file memory-mapped cache of dB-mels, its
training-split band statistics, and batch-time crops and slices."""

from mtl_music.audio.mel import mel_settings_from_cfg
from mtl_music.data.build import PrepareResult, ReportRow, build_cache
from mtl_music.data.cache import MelCache, cache_dir_for
from mtl_music.data.crops import RandomCrops, Slicer
from mtl_music.data.manifest import (
    SPLITS,
    TrackEntry,
    dataset_tracks,
    hash_split,
    read_manifest,
    scan_audio_dir,
)

__all__ = [
    "SPLITS",
    "MelCache",
    "PrepareResult",
    "RandomCrops",
    "ReportRow",
    "Slicer",
    "TrackEntry",
    "build_cache",
    "cache_dir_for",
    "dataset_tracks",
    "hash_split",
    "mel_settings_from_cfg",
    "read_manifest",
    "scan_audio_dir",
]
