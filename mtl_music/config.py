"""Where the Hydra configs live, how code outside a Hydra app composes them, and the
check that turns an unknown config-group option into an error listing the valid ones."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf, open_dict

from mtl_music.errors import ConfigError

#: The Hydra configs: ``mtl_music/conf/`` inside an installed wheel (the build ships the
#: repository's ``conf/`` there, see pyproject.toml), else the checkout's top-level ``conf/``
#: (an editable install, as the Makefile's, or ``PYTHONPATH=<checkout>``).
_PACKAGED_CONF_DIR = Path(__file__).resolve().parent / "conf"
CONF_DIR = _PACKAGED_CONF_DIR if _PACKAGED_CONF_DIR.is_dir() else Path(__file__).resolve().parent.parent / "conf"

# ${join_keys:${source}} -> "tag+bpm": names sweep job folders after their learning sources.
if not OmegaConf.has_resolver("join_keys"):
    OmegaConf.register_new_resolver("join_keys", lambda node: "+".join(str(k) for k in node))


def run_id() -> str:
    """A short token that tells apart runs started in the same second (6 hex digits).

    Random, except for the ranks of one ``torchrun`` job: they resolve their run directory each
    on their own and must agree, so the token is then a hash of what they share (the elastic run
    id and the rendezvous address, which two jobs running at once cannot share).
    """
    if "TORCHELASTIC_RUN_ID" in os.environ:
        shared = "|".join(os.environ.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT"))
        return hashlib.sha256(shared.encode()).hexdigest()[:6]
    return secrets.token_hex(3)


# ${run_id:} in conf/hydra/default.yaml: jobs started in the same second get different run
# directories. Cached per config like Hydra's ${now:...}, so one run (and every job of one sweep,
# whose configs share the cache) resolves one value.
if not OmegaConf.has_resolver("run_id"):
    OmegaConf.register_new_resolver("run_id", run_id, use_cache=True)

_OVERRIDE = re.compile(r"^(?P<group>[A-Za-z_][\w/]*)(@[\w.]+)?=(?P<value>.+)$")


def group_options(group: str, *, search_path: Sequence[Path] = ()) -> list[str]:
    """The option names of a config group (``source`` → ``[artist, bpm, ...]``), in ``conf/``
    and in any extra search-path folder (``hydra.searchpath=[file://...]``)."""
    return sorted({p.stem for root in (CONF_DIR, *search_path) for p in (Path(root) / group).glob("*.yaml")})


def _search_path(overrides: Sequence[str]) -> list[Path] | None:
    """Folders added by ``hydra.searchpath``; ``None`` when one is not a plain folder."""
    folders: list[Path] = []
    for override in overrides:
        if override.lstrip("+").startswith("hydra.searchpath="):
            for entry in re.split(r"[\[\],\s]+", override.split("=", 1)[1]):
                if not entry:
                    continue
                if not entry.startswith("file://"):
                    return None  # a package path: leave the check to Hydra
                folders.append(Path(entry[len("file://"):]))
    return folders


def check_group_overrides(overrides: Sequence[str]) -> None:
    """Raises :class:`ConfigError` naming the valid choices when an override selects an option
    that a config group does not have — including list selections (``source=[tag,nope]``)
    and sweeps (``arch=ss_r,ms_cr@3``), for which Hydra itself lists nothing."""
    search_path = _search_path(overrides)
    if search_path is None:
        return
    for override in overrides:
        match = _OVERRIDE.match(override.strip())
        if not match:
            continue
        group = match["group"]
        if group.startswith("hydra/"):
            # Hydra's own groups also hold its plugins' options (hydra/launcher=joblib, submitit_slurm),
            # which are no files here; Hydra lists them itself on an unknown one.
            continue
        if not any((Path(r) / group).is_dir() for r in (CONF_DIR, *search_path)) or "(" in match["value"] or "$" in match["value"]:
            continue  # not a group, or a sweep function / interpolation Hydra resolves itself
        valid = group_options(group, search_path=search_path)
        names = [n for n in re.split(r"[\[\],\s]+", match["value"]) if n and n != "null"]
        unknown = [n for n in names if n not in valid]
        if unknown:
            raise ConfigError(
                f"unknown {group} option(s) {', '.join(repr(n) for n in unknown)} in '{override}'. "
                f"Valid {group} options: {', '.join(valid)}"
                + (" (a new learning source is one YAML file in conf/source/)" if group == "source" else "")
            )


def compose(config_name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with ``overrides`` outside of ``@hydra.main``.

    Used by tests, notebooks and apps that run other apps; resolves nothing, so ``${...}`` stays
    lazy. ``paths.output_dir`` (Hydra's run directory inside an app) is set by the same rule as
    ``conf/hydra/default.yaml``'s (``<time>_<run_id>``: two configs composed in the same second
    get two folders) unless an override gives it.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    check_group_overrides(overrides)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
    # No Hydra run here: paths.output_dir is the run directory the app's hydra.run.dir rule names.
    run_dir = str(OmegaConf.to_container(cfg.hydra.run, resolve=False)["dir"])
    run_dir = re.sub(r"\$\{now:([^}]*)\}", lambda m: time.strftime(m.group(1)), run_dir)
    run_dir = run_dir.replace("${run_id:}", run_id())  # a new token per composed config, as per app run
    run_dir = run_dir.replace("${hydra.job.name}", config_name)
    with open_dict(cfg):
        del cfg["hydra"]
    if "paths" in cfg and not any(o.lstrip("+").startswith("paths.output_dir=") for o in overrides):
        cfg.paths.output_dir = run_dir
    return cfg


def check_command_line() -> None:
    """For ``python -m mtl_music.<app>``: checks ``sys.argv``'s group overrides before Hydra
    composes, and exits with status 2 and the valid choices on an unknown one."""
    try:
        check_group_overrides([a for a in sys.argv[1:] if not a.startswith("-")])
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def load_option(group: str, option: str) -> DictConfig:
    """``conf/<group>/<option>.yaml`` on its own (no composition): e.g. ``load_option("arch", "ss_r")``.

    Raises :class:`ConfigError` listing the group's options when ``option`` is not one of them.
    """
    path = CONF_DIR / group / f"{option}.yaml"
    if not path.is_file():
        raise ConfigError(f"{group}={option} does not exist ({path}); choose one of {group_options(group)}")
    return OmegaConf.load(path)


def load_options(group: str, *, skip_unreadable: bool = False) -> dict[str, DictConfig]:
    """Every ``conf/<group>/*.yaml`` on its own (no composition), by option name in
    :func:`group_options` order: e.g. ``load_options("arch")["ss_r"].strategy``.

    Args:
        skip_unreadable: leave out a file that does not parse (for error messages that list
            the options, which one broken file must not hide); otherwise its error propagates.
    """
    options: dict[str, DictConfig] = {}
    for option in group_options(group):
        try:
            options[option] = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
        except Exception:
            if not skip_unreadable:
                raise
    return options
