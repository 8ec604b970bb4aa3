"""``python -m mtl_music.topics source=tag data=demo`` — what the topics mean.

Prints per pLSA topic its strongest raw labels, P(label | topic) in decreasing order (paper
Table 2: "tag4: Melodic Death Metal, black metal, doom metal, Gothic Metal"), and per GMM
component its weight, mean and standard deviation in the raw units (beats per minute, years).
``run(cfg)`` is the plain function; ``main`` the thin Hydra wrapper.
"""

from __future__ import annotations

import logging

import numpy as np
from omegaconf import DictConfig

from mtl_music.cli import hydra_app

from mtl_music.errors import ConfigError
from mtl_music.sources.base import SourceLabels
from mtl_music.sources.pipeline import load_source_labels

log = logging.getLogger(__name__)


def strongest_labels(labels: SourceLabels, *, top_n: int = 5, topics: list[int] | None = None) -> list[tuple[int, list[tuple[str, float]]]]:
    """Per topic, its ``top_n`` strongest labels as ``(label, P(label | topic))``.

    Args:
        labels: a pLSA source (``topic_labels`` ``(k, n_labels)``).
        top_n: labels per topic.
        topics: topic indices to show (``None``: all).
    """
    if labels.topic_labels is None or labels.label_names is None:
        return []
    weights = np.asarray(labels.topic_labels)
    chosen = range(weights.shape[0]) if topics is None else topics
    out = []
    for j in chosen:
        if not 0 <= j < weights.shape[0]:
            raise ConfigError(f"topic {j} does not exist; source {labels.name!r} has topics 0..{weights.shape[0] - 1}")
        n = min(top_n, weights.shape[1])
        best = np.argpartition(-weights[j], n - 1)[:n] if n < weights.shape[1] else np.arange(weights.shape[1])
        best = best[np.argsort(-weights[j, best], kind="stable")]
        out.append((int(j), [(labels.label_names[i], float(weights[j, i])) for i in best]))
    return out


def describe(labels: SourceLabels, *, top_n: int = 5, topics: list[int] | None = None) -> list[str]:
    """The printed lines for one source."""
    lines = [f"== {labels.name} ({labels.category}, {labels.preprocess}): {len(labels)} tracks, k = {labels.k}"]
    if labels.is_self:
        lines.append("   no topics: the self source is a same/different-track test on pairs of crops")
        return lines
    issues = ", ".join(f"{v['count']} {k.replace('_', ' ')}" for k, v in labels.report.issues.items())
    if issues:
        lines.append(f"   input report: {issues}")
    if labels.preprocess == "gmm":
        components = np.asarray(labels.topic_labels)
        chosen = range(len(components)) if topics is None else topics
        for j in chosen:
            weight, mean, std = components[j]
            lines.append(f"   {labels.name}{j + 1:<3d} mean {mean:10.2f}  std {std:8.2f}  weight {weight:.3f}")
        return lines
    for j, best in strongest_labels(labels, top_n=top_n, topics=topics):
        shown = ", ".join(f"{name} ({p:.3f})" for name, p in best)
        lines.append(f"   {labels.name}{j + 1:<3d} {shown}")
    return lines


def run(cfg: DictConfig) -> list[str]:
    """Inspect every source selected in ``cfg.source``; prints and returns the lines."""
    names = list(cfg.get("source") or {})
    if not names:
        raise ConfigError("no learning source selected; pass e.g. source=[tag] (see conf/source/)")
    topics = list(cfg.topics) if cfg.get("topics") is not None else None
    lines: list[str] = []
    for name in names:
        labels = load_source_labels(cfg.source[name], data_cfg=cfg.data, recompute=bool(cfg.get("recompute", False)))
        lines.extend(describe(labels, top_n=int(cfg.top_n), topics=topics))
    print("\n".join(lines))
    return lines


#: The command line: ``python -m mtl_music.topics`` / ``mtl-topics``.
main = hydra_app("topics")(run)


if __name__ == "__main__":
    main()
