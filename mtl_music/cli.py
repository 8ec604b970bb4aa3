"""The one wrapper of every ``python -m mtl_music.<app>`` / ``mtl-<app>`` command.

An app module holds ``run(cfg)`` (the plain, importable function) and a ``main`` made by
:func:`hydra_app`, which does the same three things for every app: check the command line's
config-group choices (an unknown option exits 2 listing the valid ones, before Hydra composes),
compose ``conf/<config_name>.yaml`` with Hydra, and turn a user error
(:class:`~mtl_music.errors.MtlMusicError`) into a one-paragraph message and exit status 2.

:data:`APPS` lists every app; ``pyproject.toml`` gives each a console script ``mtl-<name>``.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Callable

from omegaconf import DictConfig

from mtl_music.errors import MtlMusicError

log = logging.getLogger("mtl_music")

#: Every app: command name → (module, config name). One module per app, ``conf/<config>.yaml``.
APPS: dict[str, tuple[str, str]] = {
    "prepare": ("mtl_music.prepare", "prepare"),
    "train": ("mtl_music.train", "train"),
    "evaluate": ("mtl_music.evaluate", "evaluate"),
    "embed": ("mtl_music.embed", "embed"),
    "export": ("mtl_music.export", "export"),
    "topics": ("mtl_music.topics", "topics"),
    "params": ("mtl_music.params", "params"),
    "design": ("mtl_music.design", "design"),
    "analyze": ("mtl_music.analyze", "analyze"),
    "study": ("mtl_music.study", "study"),
    "compare": ("mtl_music.compare", "compare"),
}


def user_errors_exit(fn: Callable) -> Callable:
    """Wraps a function: an :class:`MtlMusicError` becomes a one-paragraph message on stderr
    and exit status 2 instead of a traceback (set ``MTL_MUSIC_TRACEBACK=1`` to see it)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MtlMusicError as err:
            if os.environ.get("MTL_MUSIC_TRACEBACK"):
                raise
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper


def check_added_keys(overrides: list[str], *, app: str, open_keys: tuple[str, ...]) -> None:
    """Refuses ``+key=value`` overrides that add a key the app does not read (it would be
    silently ignored). Keys below ``hydra.`` and below the app's ``open_keys`` prefixes (e.g.
    ``trainer.``, whose keys are passed on to Lightning's Trainer) may be added."""
    from mtl_music.errors import ConfigError

    for override in overrides:
        if not override.startswith("+") or "=" not in override:
            continue
        key = override.lstrip("+").split("=", 1)[0].strip()
        if key.startswith(("hydra.", "hydra/")) or key.startswith(tuple(open_keys)):
            continue
        addable = ", ".join(f"{prefix}<key>" for prefix in open_keys) or "none besides hydra.*"
        raise ConfigError(f"'{override}' adds the key {key!r}, which {app} does not read: it would be ignored. "
                          f"Check the spelling against `{app} --cfg job` (existing keys are set without '+'); "
                          f"keys that may be added: {addable}")


def hydra_app(config_name: str, *, open_keys: tuple[str, ...] = ()) -> Callable[[Callable[[DictConfig], None]], Callable[[], None]]:
    """Decorator making an app's ``main()`` from ``body(cfg)``: command-line check, Hydra, user errors.

    ``body`` receives the composed config and prints what the user needs; ``main()`` takes its
    arguments from ``sys.argv`` (Hydra's overrides and flags such as ``-m`` or ``--cfg job``).
    ``open_keys``: prefixes under which ``+key=value`` may add keys (see :func:`check_added_keys`).
    """

    def decorate(body: Callable[[DictConfig], None]) -> Callable[[], None]:
        import hydra

        from mtl_music.config import CONF_DIR, check_command_line

        composed = hydra.main(config_path=str(CONF_DIR), config_name=config_name, version_base="1.3")(
            user_errors_exit(body))

        @functools.wraps(body)
        def main() -> None:
            check_command_line()
            user_errors_exit(check_added_keys)([a for a in sys.argv[1:] if not a.startswith("-")],
                                               app=f"mtl_music.{config_name}", open_keys=open_keys)
            composed()

        main.config_name = config_name  # type: ignore[attr-defined]
        return main

    return decorate


__all__ = ["APPS", "check_added_keys", "hydra_app", "user_errors_exit"]
