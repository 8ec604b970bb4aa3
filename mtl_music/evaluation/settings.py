"""How a transfer evaluation runs: the ``evaluation`` config group (``conf/evaluation/default.yaml``)
as one typed, validated object that the ``evaluate`` app, the ``TransferEvaluation`` callback
and the protocol all read, so an option is added in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from mtl_music.errors import ConfigError

LAYER_MODES = ("concat", "per_layer")
PROBES = ("paper", "marble")
AGGREGATES = ("track", "slices")
CHOI_WEIGHTS = ("trained", "rand")


@dataclass(frozen=True)
class HearSettings:
    """``evaluation.hear``: the HEAR-API module evaluated by ``baseline=hear``."""

    module: str | None = None
    model: str | None = None
    batch_size: int = 16


@dataclass(frozen=True)
class EvaluationSettings:
    """Every key of the ``evaluation`` group (see ``conf/evaluation/default.yaml`` for their meaning)."""

    repetitions: int = 5
    seed: int = 0
    batch_slices: int = 128
    num_workers: int = 2
    external_dir: str | None = None
    baselines: tuple[str, ...] = ()
    layers: tuple[str, ...] | str | None = None   # None, "all" or block names
    layer_mode: str = "concat"
    probe: str = "paper"
    aggregate: str = "track"
    validation_fraction: float = 0.1
    deform: tuple[str, ...] = ()
    deformations: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    hear: HearSettings = field(default_factory=HearSettings)
    choi_weights: str = "trained"

    def __post_init__(self) -> None:
        for key, value, allowed in (("layer_mode", self.layer_mode, LAYER_MODES), ("probe", self.probe, PROBES),
                                    ("aggregate", self.aggregate, AGGREGATES),
                                    ("choi.weights", self.choi_weights, CHOI_WEIGHTS)):
            if value not in allowed:
                raise ConfigError(f"evaluation.{key}={value!r}; choose {' or '.join(allowed)}")
        for key in ("repetitions", "batch_slices"):
            if int(getattr(self, key)) < 1:
                raise ConfigError(f"evaluation.{key}={getattr(self, key)} must be at least 1")
        if int(self.num_workers) < 0:
            raise ConfigError(f"evaluation.num_workers={self.num_workers} must be 0 or more")
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise ConfigError(f"evaluation.validation_fraction={self.validation_fraction} must be between 0 and 1")
        unknown = [name for name in self.deform if name not in self.deformations]
        if unknown:
            raise ConfigError(f"evaluation.deform names {', '.join(map(repr, unknown))}, which "
                              f"evaluation.deformations does not define (it has: {', '.join(self.deformations)})")
        if int(self.hear.batch_size) < 1:
            raise ConfigError(f"evaluation.hear.batch_size={self.hear.batch_size} must be at least 1")

    @classmethod
    def from_cfg(cls, node: DictConfig | Mapping[str, Any] | None) -> "EvaluationSettings":
        """The settings of a composed ``evaluation`` node (absent keys take the defaults above);
        :class:`ConfigError` naming an unknown key or a bad value."""
        raw = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node or {})
        known = {f.name for f in fields(cls)} - {"choi_weights"} | {"choi", "hear"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"evaluation.{unknown[0]} is not an evaluation option; the options are "
                              f"{', '.join(sorted(known))} (conf/evaluation/default.yaml)")
        hear = dict(raw.pop("hear", None) or {})
        bad = sorted(set(hear) - {f.name for f in fields(HearSettings)})
        if bad:
            raise ConfigError(f"evaluation.hear.{bad[0]} is not an option; evaluation.hear takes module, model, batch_size")
        choi = dict(raw.pop("choi", None) or {})
        if set(choi) - {"weights"}:
            raise ConfigError(f"evaluation.choi.{sorted(set(choi) - {'weights'})[0]} is not an option; "
                              "evaluation.choi takes weights (trained or rand)")
        layers = raw.get("layers")
        if layers is not None and not isinstance(layers, str):
            layers = tuple(str(name) for name in layers)
            if not layers:
                raise ConfigError("evaluation.layers=[] selects no layer; pass null (the representation), all, or "
                                  "block names such as [conv3, conv5, fc_feature]")
        values = {**raw, "layers": layers,
                  "baselines": tuple(raw.get("baselines") or ()), "deform": tuple(raw.get("deform") or ()),
                  "deformations": {str(k): tuple(v if isinstance(v, Sequence) and not isinstance(v, str) else [v])
                                   for k, v in (raw.get("deformations") or {}).items()},
                  "hear": HearSettings(**hear), "choi_weights": str(choi.get("weights", "trained"))}
        for key in ("repetitions", "seed", "batch_slices", "num_workers"):
            if key in values:
                values[key] = int(values[key])
        return cls(**values)
