"""Reading one target's config node (``cfg.target.<name>``): typed values, resolved paths, and
the wording of layout errors (what is missing, the expected layout, the override that fixes it).

Every ``conf/target/<name>.yaml`` starts with ``# @package target.<name>``, so a target's keys
are overridden as ``target.<name>.<key>=...`` (e.g. ``target.gtzan.root=/data/GTZAN``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from mtl_music.errors import ConfigError, DataError

_REQUIRED = object()


class TargetOptions:
    """Typed access to a composed target node.

    Args:
        cfg: the node (``DictConfig``, or a plain mapping in scripts and tests); it needs at least
            ``name`` and ``root``.
        dataset: the dataset's human name for messages (``"GTZAN"``).
        layout: the expected on-disk layout under ``root``, for messages.
    """

    def __init__(self, cfg: DictConfig | Mapping[str, Any], *, dataset: str, layout: str) -> None:
        self.cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(dict(cfg))
        self.dataset = dataset
        self.layout = layout
        name = self.cfg.get("name") if "name" in self.cfg else None
        if not name:
            raise ConfigError(f"a {dataset} target config has no 'name' key; every conf/target/<name>.yaml "
                              "starts with '# @package target.<name>' and 'name: <name>'")
        self.name = str(name)

    def key(self, key: str) -> str:
        """The override spelling of ``key`` (``target.gtzan.root``)."""
        return f"target.{self.name}.{key}"

    def value(self, key: str, default: Any = _REQUIRED) -> Any:
        """The resolved value of ``key`` (containers as plain lists/dicts); ``default`` when absent
        or null. Raises :class:`ConfigError` when it is required and absent or cannot be resolved."""
        try:
            present = key in self.cfg and self.cfg.get(key) is not None
            if not present:
                if default is _REQUIRED:
                    raise ConfigError(f"{self.key(key)} is not set; add it to conf/target/{self.name}.yaml or "
                                      f"pass {self.key(key)}=...")
                return default
            value = self.cfg.get(key)
            return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        except OmegaConfBaseException as err:
            raise ConfigError(f"{self.key(key)} cannot be resolved ({err}); compose the target inside the full "
                              f"config (paths.data_root must be set) or pass {self.key(key)}=/an/absolute/path") from err

    def path(self, key: str, default: Path | None | object = _REQUIRED) -> Path | None:
        """``value(key)`` as an absolute, user-expanded path (``default`` when absent or null)."""
        value = self.value(key, default)
        if value is None or isinstance(value, Path):
            return value
        return Path(str(value)).expanduser().absolute()

    def fraction(self, key: str, default: float) -> float:
        """``value(key)`` as a number in (0, 1)."""
        value = self.value(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not 0.0 < number < 1.0:
            raise ConfigError(f"{self.key(key)}={value!r} must be a number between 0 and 1 (exclusive)")
        return number

    def count(self, key: str, default: int) -> int:
        """``value(key)`` as a positive integer."""
        value = self.value(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{self.key(key)}={value!r} must be a positive integer")
        return value

    def names(self, key: str) -> tuple[str, ...] | None:
        """``value(key)`` as a tuple of non-empty strings, or ``None`` when absent or null."""
        value = self.value(key, None)
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(str(v).strip() for v in value):
            raise ConfigError(f"{self.key(key)}={value!r} must be a list of names, or null")
        return tuple(str(v).strip() for v in value)

    def extra_metrics(self) -> tuple[str, ...]:
        """``value("extra_metrics")`` as a tuple of names (``()`` when absent or null); the
        :class:`~mtl_music.targets.base.TargetIndex` checks them against the registry."""
        return self.names("extra_metrics") or ()

    def root(self) -> Path:
        """The dataset's folder (``root``); raises :class:`DataError` when it is not a folder."""
        root = self.path("root")
        if not root.is_dir():
            raise self.layout_error(f"{self.key('root')}={root} does not exist or is not a folder")
        return root

    def existing_file(self, key: str, default: Path) -> Path:
        """``path(key, default)``; raises :class:`DataError` when it is not a file."""
        path = self.path(key, default)
        if not path.is_file():
            raise self.layout_error(f"{path} ({self.key(key)}) does not exist or is not a file", fix_key=key)
        return path

    def existing_dir(self, key: str, default: Path) -> Path:
        """``path(key, default)``; raises :class:`DataError` when it is not a folder."""
        path = self.path(key, default)
        if not path.is_dir():
            raise self.layout_error(f"{path} ({self.key(key)}) does not exist or is not a folder", fix_key=key)
        return path

    def layout_error(self, problem: str, *, fix_key: str = "root") -> DataError:
        """A :class:`DataError`: ``problem``, the expected layout and the override that fixes it."""
        # how_to_get: an optional config key saying where the data comes from (the demo targets: a build step).
        try:
            how_to_get = self.cfg.get("how_to_get") or "download and extract the dataset there"
        except OmegaConfBaseException:
            how_to_get = "download and extract the dataset there"
        return DataError(f"target {self.name}: {problem}. Expected {self.dataset} layout under {self.key('root')}: "
                         f"{self.layout}. Fix: {how_to_get}, or pass "
                         f"{self.key(fix_key)}=/path/to/{self.dataset if fix_key == 'root' else fix_key}")
