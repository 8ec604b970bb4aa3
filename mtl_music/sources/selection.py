"""The learning sources a run selected (``cfg.source``), loaded with what their heads mean."""

from __future__ import annotations

from omegaconf import DictConfig

from mtl_music.errors import ConfigError


def selected_source_names(cfg: DictConfig) -> list[str]:
    """The selected learning sources, in config order; fails with the valid choices."""
    from mtl_music.sources.pipeline import available_sources

    names = list(cfg.get("source") or {})
    if not names:
        raise ConfigError(
            "no learning source selected; pass e.g. source=[tag,bpm]. Valid sources: " + ", ".join(available_sources())
        )
    return names


def load_selected_sources(cfg: DictConfig, names: list[str]) -> tuple[dict, dict]:
    """``({name: SourceLabels}, {name: SourceVocabulary or None})`` of the selected sources on
    ``cfg.data`` (the vocabularies say what each head's outputs mean; stored in the checkpoint)."""
    from mtl_music.sources.pipeline import load_source_labels
    from mtl_music.sources.vocabulary import SourceVocabulary

    labels = {name: load_source_labels(cfg.source[name], data_cfg=cfg.data) for name in names}
    return labels, {name: SourceVocabulary.from_labels(labels[name]) for name in names}


__all__ = ["load_selected_sources", "selected_source_names"]
