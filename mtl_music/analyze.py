"""``python -m mtl_music.analyze runs=<sweep folder>``: the statistical analysis of a sweep
(paper Sect. 5, SPEC R7.3) — mixed models with bootstrap intervals, variance components, the
paper's figures and ``report.md`` with the findings, in ``<runs>/analysis`` (or ``output=``).

    python -m mtl_music.analyze runs=multirun/train/2024-05-01_10-00-00 bootstrap.samples=500
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import numpy as np
from omegaconf import DictConfig, OmegaConf

from mtl_music.cli import hydra_app
from mtl_music.config import load_option
from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def output_folder(cfg: DictConfig) -> Path:
    """``paths.output_dir``: ``<runs>/analysis`` unless ``hydra.run.dir`` says otherwise."""
    return Path(str(cfg.paths.output_dir)).expanduser()


def analyze(cfg: DictConfig, *, output_dir: Path):
    """Collects, fits, bootstraps and draws; returns the :class:`~mtl_music.analysis.report.Analysis`
    (figures already written under ``output_dir/figures``)."""
    from mtl_music.analysis import bootstrap, collect, mixed_models, summaries
    from mtl_music.analysis.report import Analysis

    boot_cfg = cfg.get("bootstrap") or {}
    n_boot, seed = int(boot_cfg.get("samples", 200)), int(boot_cfg.get("seed", 0))
    n_jobs = int(boot_cfg.get("n_jobs", 1))
    if n_boot < 1 or n_jobs < 1:
        raise ConfigError(f"bootstrap.samples={n_boot} and bootstrap.n_jobs={n_jobs} must be at least 1")
    metrics = OmegaConf.to_container(cfg.metrics) if cfg.get("metrics") else {}

    collected = collect.collect_runs(runs_dir=cfg.runs, metrics=metrics, exclude=[output_dir])
    data = mixed_models.standardize_scores(scores=collected.scores)
    notes = []
    dropped_targets = sorted(set(collected.scores["target"]) - set(data["target"]))
    if dropped_targets:
        notes.append(f"targets {dropped_targets} have fewer than 2 runs or constant scores and were left out.")
    if data["target"].nunique() < 2:
        notes.append("only one target: per-target random effects are not identifiable, so both models are "
                     "fitted by OLS (fixed effects only).")

    fit1 = mixed_models.fit_strategy_model(data=data)
    fit2 = mixed_models.fit_size_model(data=data)
    log.info("bootstrap: %d refits per model", n_boot)
    boot1 = bootstrap.bootstrap_fixed_effects(data=data, fit=fit1, n_boot=n_boot, seed=seed, n_jobs=n_jobs)
    boot2 = bootstrap.bootstrap_fixed_effects(data=data, fit=fit2, n_boot=n_boot, seed=seed, n_jobs=n_jobs)
    components = summaries.variance_components(data=data, sources=collected.sources)
    association, association_r = summaries.single_source_association(data=data, components=components)

    alias, alias_source = _alias(cfg, collected, data)
    analysis = Analysis(
        collected=collected, data=data, fit1=fit1, boot1=boot1, fit2=fit2, boot2=boot2,
        effects1=summaries.fixed_effects_table(fit=fit1, boot=boot1),
        effects2=summaries.fixed_effects_table(fit=fit2, boot=boot2),
        pairwise=summaries.pairwise_comparisons(fit=fit1, boot=boot1),
        mean_slope=summaries.mean_multisource_slope(fit=fit1, boot=boot1),
        components=components, means=summaries.strategy_means(data=data), association=association,
        association_r=association_r, alias=alias, alias_source=alias_source, notes=notes,
        settings={"n_boot": n_boot, "seed": seed},
    )
    analysis.parameters = _parameters(cfg, collected, analysis)
    _draw_figures(cfg, analysis, figures_dir=output_dir / "figures")
    return analysis


def _alias(cfg: DictConfig, collected, data):
    from mtl_music.analysis import collect, summaries

    if cfg.get("alias"):
        path = Path(str(cfg.alias)).expanduser()
        if not path.is_file():
            raise DataError(f"alias={path}: no such file")
        return collect.read_alias(path=path), f"read from `{path}`"
    if collected.alias is not None:
        return collected.alias, f"read from `{collect.ALIAS_FILE}` in the sweep folder"
    correlation = summaries.main_effect_correlation(data=data, sources=collected.sources)
    return correlation, ("no alias.csv in the sweep folder, so the absolute correlations between the runs' "
                         "main-effect columns (strategy levels, number of sources, source presence) stand in")


def _parameters(cfg: DictConfig, collected, analysis):
    """Fig. 15's counts, or ``None`` with a note (torch missing, trunk unknown, disabled)."""
    from mtl_music.analysis import collect

    settings = cfg.get("parameters") or {}
    if not settings.get("enabled", True):
        analysis.figure_notes["fig15"] = "disabled (parameters.enabled=false)"
        return None
    trunk = settings.get("trunk")
    if trunk is None:
        trunk = "vgg"
        for path in collected.run_configs:
            run_cfg = OmegaConf.load(path)
            if run_cfg.get("trunk") is not None:
                trunk = run_cfg.trunk
                break
    ks = [k for row in collected.summaries["k"] for k in (row or {}).items()] if len(collected.summaries) else []
    k = {name: value for name, value in ks}
    try:
        return collect.parameter_counts(sources=collected.sources, k=k, trunk=trunk)
    except Exception as err:  # noqa: BLE001 — an auxiliary figure must not end the analysis
        log.warning("Fig. 15 skipped: counting parameters failed: %r", err)
        analysis.figure_notes["fig15"] = f"parameter counting failed ({type(err).__name__}: {err})"
        return None


def _tsne_inputs(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray, str] | None:
    """``(features, labels, title)`` from ``tsne.features`` and ``tsne.target``, or ``None``."""
    from mtl_music.analysis.collect import load_features
    from mtl_music.targets import load_target

    settings = cfg.get("tsne") or {}
    if not settings.get("features"):
        return None
    if not settings.get("target"):
        raise ConfigError("tsne.features is set but tsne.target is not: name the conf/target option whose classes "
                          "label the tracks (e.g. tsne.target=gtzan)")
    name = str(settings.target)
    try:
        target_node = load_option("target", name)
    except ConfigError:
        raise ConfigError(f"tsne.target={name}: no conf/target/{name}.yaml") from None
    # The target YAML interpolates ${paths.data_root}: give it this app's paths node.
    composed = OmegaConf.merge({"paths": cfg.paths}, {"target": {name: target_node}})
    index = load_target(composed.target[name])
    if index.task != "classification":
        raise ConfigError(f"tsne.target={name} is a {index.task} target; t-SNE colours by class")
    track_ids, features = load_features(path=settings.features)
    labels = {t.track_id: t.label for t in index.tracks}
    keep = np.array([t in labels for t in track_ids])
    if keep.sum() < 5:
        raise DataError(f"tsne: only {int(keep.sum())} of the {len(track_ids)} tracks in {settings.features} "
                        f"belong to target {name}")
    title = f"t-SNE of {name} ({Path(str(settings.features)).stem})"
    return features[keep], np.array([labels[t] for t in track_ids[keep]]), title


def _draw_figures(cfg: DictConfig, analysis, *, figures_dir: Path) -> None:
    """Every figure whose inputs exist; a figure that cannot be drawn is noted, not fatal."""
    from mtl_music.analysis import figures

    collected, data = analysis.collected, analysis.data
    jobs: dict[str, Callable[[Path], Path]] = {
        "fig7": lambda p: figures.alias_matrix(alias=analysis.alias, path=p),
        "fig8": lambda p: figures.single_source_performance(scores=data, baselines=collected.baselines, path=p),
        "fig9": lambda p: figures.strategy_performance(scores=data, baselines=collected.baselines, path=p),
        "fig10": lambda p: figures.performance_by_sources(data=data, path=p),
        "fig11": lambda p: figures.strategy_effects(table=analysis.effects1, path=p),
        "fig12": lambda p: figures.size_effects(table=analysis.effects2, path=p),
        "table6": lambda p: figures.variance_components_heatmap(components=analysis.components, path=p),
        "fig14": lambda p: figures.variance_vs_single_source(pairs=analysis.association, path=p),
    }
    if analysis.parameters is not None and not analysis.parameters.empty:
        jobs["fig15"] = lambda p: figures.parameters_by_sources(counts=analysis.parameters, path=p)
    tsne = _tsne_inputs(cfg)
    if tsne is not None:
        settings = cfg.tsne
        jobs["fig16"] = lambda p: figures.tsne_embedding(features=tsne[0], labels=tsne[1], path=p, title=tsne[2],
                                                         perplexity=float(settings.perplexity), seed=int(settings.seed))
    else:
        analysis.figure_notes["fig16"] = "no feature file given (tsne.features=<...npz> tsne.target=<target>)"
    for key, draw in jobs.items():
        try:
            analysis.figures[key] = draw(figures_dir / f"{key}.png")
        except DataError as err:  # e.g. no SS-R runs for Fig. 8
            analysis.figure_notes[key] = str(err)
            log.warning("%s not drawn: %s", key, err)


def run(cfg: DictConfig) -> Path:
    """Runs the analysis as configured; returns the path of ``report.md``."""
    from mtl_music.analysis.report import write_report

    if OmegaConf.is_missing(cfg, "runs") or cfg.get("runs") is None:
        raise ConfigError("runs=<sweep folder> is required: the folder holding the run folders (with transfer.csv)")
    output_dir = output_folder(cfg)
    analysis = analyze(cfg, output_dir=output_dir)
    report = write_report(analysis=analysis, output_dir=output_dir)
    data = analysis.data
    print(f"analysis of {data['run_id'].nunique()} runs on {data['target'].nunique()} targets: {report}")
    return report


#: The command line: ``python -m mtl_music.analyze`` / ``mtl-analyze``.
main = hydra_app("analyze", open_keys=("metrics.",))(run)


if __name__ == "__main__":
    main()
