"""What every ``python -m mtl_music.<app>`` does with a user error: print it plainly, exit 2."""

from __future__ import annotations

import functools
import logging
import sys
from typing import Callable

from mtl_music.errors import MtlMusicError

log = logging.getLogger("mtl_music")


def user_errors_exit(fn: Callable) -> Callable:
    """Wraps a Hydra ``main``: an :class:`MtlMusicError` becomes a one-paragraph message on
    stderr and exit status 2 instead of a traceback (set ``MTL_MUSIC_TRACEBACK=1`` to see it)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import os

        try:
            return fn(*args, **kwargs)
        except MtlMusicError as err:
            if os.environ.get("MTL_MUSIC_TRACEBACK"):
                raise
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
