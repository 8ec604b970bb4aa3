"""The one error type of mtl_music.

Every failure a user can cause (bad audio, a missing label file, an unknown source name,
a wrong path) raises a subclass of :class:`MtlMusicError` whose message names the thing
and says how to fix it. Catch ``MtlMusicError`` to catch them all.
"""

from __future__ import annotations


class MtlMusicError(Exception):
    """Base class of all user-facing errors."""


class AudioError(MtlMusicError):
    """An audio file cannot be used: unreadable, corrupt, empty, silent or too short."""


class DataError(MtlMusicError):
    """A dataset, manifest, cache or label file is missing or malformed."""


class SourceError(MtlMusicError):
    """A learning source is misconfigured or has no usable labels."""


class ConfigError(MtlMusicError):
    """A configuration value is invalid (unknown choice, impossible combination)."""
