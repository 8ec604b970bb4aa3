"""mtl_music: learn deep music representations from many learning sources at once,
and measure how well they transfer (Kim et al., "One deep music representation to rule
them all?")."""

from mtl_music.errors import MtlMusicError

__all__ = ["MtlMusicError"]
__version__ = "0.1.0"
