"""``python -m mtl_music.export ckpt=<run dir or .ckpt> [format=torchscript] [output=<file.pt>]``:
a trained representation as one self-contained file, plus its model card.

The TorchScript file maps raw audio to the representation — channel rule, mel front end,
standardisation, 2.5 s slicing, network, mean ‖ std — and needs nothing but ``torch``::

    model = torch.jit.load("run.pt")
    vector = model(audio)            # (samples,) or (channels, samples) at model.sample_rate -> (2·D,)
    model.scene_embeddings(batch)    # (n, samples) or (n, channels, samples) -> (n, 2·D)
    model.slice_embeddings(audio)    # one track -> (n_slices, D), one row per 2.5 s slice
    model.timestamp_embeddings(batch, model.default_hop_frames)  # -> (n, T, D), (n, T) ms

It gives the vectors ``mtl_music.embed`` writes for the same audio (both run
:class:`~mtl_music.models.embedder.AudioEmbedder`), and :mod:`mtl_music.hear` loads it too.
The model card is stored inside the file (``_extra_files`` entry ``model_card.json``) and
beside it as Markdown (``<name>.card.md``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from mtl_music.atomic import atomic_path, write_text_atomic
from mtl_music import runs
from mtl_music.cli import hydra_app

from mtl_music.errors import ConfigError, DataError
from mtl_music.hear import CARD_ENTRY

log = logging.getLogger(__name__)

#: ``format=`` choices.
FORMATS = ("torchscript",)

#: Bump when the exported module's methods or the card's keys change incompatibly.
EXPORT_VERSION = 1

DEMO_LICENCE = (
    "Trained on the embedded demo corpus: public-domain compositions from the music21 corpus, "
    "rendered with the TimGM6mb soundfont. The Essen encodings are licensed for non-commercial use, "
    "the Palestrina encodings under the Humdrum licence, and the soundfont is GPL-2 upstream; see "
    "docs/data_card.md section 4 before redistributing the model or audio made with it."
)


def default_output(ckpt: Path) -> Path:
    """``<run dir>/export/<run name>.pt``; beside the checkpoint for a loose ``.ckpt``."""
    run_dir, name = runs.run_of_checkpoint(ckpt)
    return (run_dir if run_dir is not None else ckpt.parent) / "export" / f"{name}.pt"


# ---------------------------------------------------------------------------- model card
def _load_yaml(path: Path) -> dict:
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False) or {}
    except Exception as err:  # noqa: BLE001 - a broken side file must not stop an export
        log.warning("cannot read %s (%s); the model card leaves it out", path, err)
        return {}


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        log.warning("cannot read %s (%s); the model card leaves it out", path, err)
        return {}


def transfer_summary(path: Path) -> list[dict]:
    """Mean ± sample std over repetitions per (run, strategy, sources, target, metric) of a
    ``transfer.csv`` (:class:`~mtl_music.evaluation.results.ResultsTable`)."""
    from mtl_music.evaluation.results import ResultsTable

    return ResultsTable.from_csv(path).summary_rows()


def model_card(module, *, ckpt: Path, embedder) -> dict[str, Any]:
    """Everything a user of the exported file needs to know, as a JSON-able dict: sources,
    strategy, data, training schedule, input contract, transfer results when the run has them."""
    from mtl_music.evaluation.features import file_digest

    hp = module.hparams
    run_dir, name = runs.run_of_checkpoint(ckpt)
    config = _load_yaml(run_dir / runs.CONFIG_FILE) if run_dir and (run_dir / runs.CONFIG_FILE).is_file() else {}
    summary = _load_json(run_dir / runs.SUMMARY_FILE) if run_dir and (run_dir / runs.SUMMARY_FILE).is_file() else {}
    network = module.network
    arch, trunk = dict(hp["arch"]), dict(hp["trunk"])
    categories = dict(hp.get("source_categories") or {})
    sizes = summary.get("sources") or {}
    sources = [{"name": s, "k": int(k), "category": categories.get(s, ""),
                **({"train_tracks": sizes[s].get("train")} if isinstance(sizes.get(s), dict) else {})}
               for s, k in dict(hp["sources"]).items()]
    data_name = str(hp.get("data_name") or (config.get("data") or {}).get("name") or "")
    data_cfg = config.get("data") or {}
    training_cfg = config.get("training") or {}
    optim = dict(hp["optim"])
    training = {
        "from": runs.CONFIG_FILE if config else "checkpoint hyper-parameters",
        "epochs": summary.get("epochs", config.get("epochs")),
        "global_steps": summary.get("global_step"),
        "batch_size": data_cfg.get("batch_size"),
        "sampling": training_cfg.get("sampling"),
        "loss_weighting": hp.get("loss_weighting", training_cfg.get("loss_weighting")),
        "optimiser": {"name": "Adam", "lr": optim.get("lr"), "weight_decay": optim.get("weight_decay")},
        "crop_frames": int(hp.get("crop_frames", 216)),
        "seed": hp.get("seed"),
        "limit_train_steps": config.get("limit_train_steps"),
        "fast_dev_run": (config.get("trainer") or {}).get("fast_dev_run"),
        "seconds": summary.get("seconds"),
    }
    seconds_per_slice = embedder.slice_frames * embedder.hop_length / embedder.sample_rate
    transfer_csv = run_dir / runs.RESULTS_FILE if run_dir else None
    transfer = transfer_summary(transfer_csv) if transfer_csv is not None and transfer_csv.is_file() else []
    return {
        "export_version": EXPORT_VERSION,
        "format": "torchscript",
        "name": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoint": str(ckpt.resolve()),
        "checkpoint_sha256_16": file_digest(ckpt),
        "torch_version": torch.__version__,
        "strategy": {"arch": arch.get("name"), "strategy": arch.get("strategy"),
                     "shared_layers": list(network.shared_slots), "branch_at": arch.get("branch_at"),
                     "trunk": trunk.get("name"), "representation": arch.get("representation")},
        "sources": sources,
        "data": {"name": data_name, **({"licence": DEMO_LICENCE} if data_name == "demo" else {})},
        "training": training,
        "representation": {"slice_size": embedder.representation_size, "embedding_size": embedder.embedding_size},
        "input": {"sample_rate": embedder.sample_rate,
                  "channels": "(samples,) mono or (channels, samples): mono is duplicated, more than two channels "
                              "are down-mixed as mtl_music.audio.load_audio does",
                  "slice_frames": embedder.slice_frames, "slice_seconds": round(seconds_per_slice, 4),
                  "hop_length": embedder.hop_length, "n_mels": embedder.n_mels,
                  "frontend": module_frontend(module),
                  "output": "mean then population std of the representation over non-overlapping 2.5 s slices "
                            "(the last padded with the track's dB floor): embedding_size = 2 x slice_size"},
        "transfer": transfer,
    }


def module_frontend(module) -> dict:
    from mtl_music.audio.mel import mel_settings_from_cfg

    return mel_settings_from_cfg(module.hparams["frontend"]).as_dict()


def card_markdown(card: dict, *, file_name: str | None = None) -> str:
    """The model card as Markdown (what ``<name>.card.md`` holds); ``file_name``: the exported
    file's name, for the usage example."""
    file_name = file_name or f"{card['name']}.pt"
    s, t, inp = card["strategy"], card["training"], card["input"]
    lines = [f"# Model card: {card['name']}", "",
             f"A music representation trained with mtl_music (Kim et al., \"One deep music representation to rule "
             f"them all?\"), exported as TorchScript on {card['created']} from `{card['checkpoint']}` "
             f"(sha256 {card['checkpoint_sha256_16']}…, torch {card['torch_version']}).", "",
             "## Strategy", "",
             f"- arch `{s['arch']}` (strategy {s['strategy']}, trunk {s['trunk']}); shared layers: "
             f"{', '.join(s['shared_layers']) or 'none'}; first per-source layer: {s['branch_at']}",
             f"- representation: {card['representation']['slice_size']} values per 2.5 s slice "
             f"({s['representation'] or ''}), {card['representation']['embedding_size']} per track", "",
             "## Learning sources", "", "| source | k | category | training tracks |", "|---|---|---|---|"]
    lines += [f"| {x['name']} | {x['k']} | {x['category'] or '—'} | {x.get('train_tracks', '—')} |"
              for x in card["sources"]]
    lines += ["", "## Data", "", f"- training data: `{card['data']['name'] or 'unknown'}`"]
    if card["data"].get("licence"):
        lines.append(f"- licence: {card['data']['licence']}")
    lines += ["", "## Training schedule", "", f"(from {t['from']})", ""]
    lines += [f"- {label}: {value}" for label, value in (
        ("epochs", t["epochs"]), ("optimisation steps", t["global_steps"]), ("batch size", t["batch_size"]),
        ("source sampling", t["sampling"]), ("loss weighting", t["loss_weighting"]),
        ("optimiser", f"{t['optimiser']['name']}, lr {t['optimiser']['lr']}, weight decay "
                      f"{t['optimiser']['weight_decay']}"),
        ("crop", f"{t['crop_frames']} frames"), ("seed", t["seed"]),
        ("limit_train_steps", t["limit_train_steps"]), ("fast_dev_run", t["fast_dev_run"]),
        ("training time", f"{t['seconds']:.0f} s" if isinstance(t["seconds"], (int, float)) else None),
    ) if value is not None and value is not False]
    lines += ["", "## Input and output", "",
              f"- audio at {inp['sample_rate']} Hz, float32, any length; {inp['channels']}",
              f"- mel front end: {', '.join(f'{k}={v}' for k, v in inp['frontend'].items())}; dB with per-track top_db",
              f"- slices of {inp['slice_frames']} frames ({inp['slice_seconds']} s), standardised per band with the "
              "training split's statistics",
              f"- output: {inp['output']}", "",
              "```python",
              "import torch",
              f"model = torch.jit.load(\"{file_name}\")  # no mtl_music needed",
              "vector = model(audio)                 # (samples,) or (channels, samples) -> (embedding_size,)",
              "scene = model.scene_embeddings(batch)  # (n, samples) -> (n, embedding_size)",
              "frames, ms = model.timestamp_embeddings(batch, model.default_hop_frames)",
              "```", "",
              f"HEAR: `mtl_music.hear.load_model(\"{file_name}\")`, then `get_scene_embeddings` / "
              "`get_timestamp_embeddings`.", "",
              "## Transfer results", ""]
    if card["transfer"]:
        lines += ["Mean ± sample std over repetitions (transfer.csv of the run):", "",
                  "| run | strategy | sources | target | metric | n | mean ± std |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['run']} | {r['strategy']} | {r['sources'] or '—'} | {r['target']} | {r['metric']} | {r['n']} "
                  f"| {r['mean']:.4f} ± {r['std']:.4f} |" for r in card["transfer"]]
    else:
        lines.append("None in the run directory (run `python -m mtl_music.evaluate ckpt=<run dir>`, then export again).")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- export
def _writable_folder(out: Path, *, what: str) -> None:
    """Creates ``out``'s folder, or raises a ConfigError saying why it cannot be written to."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{what}={out}: cannot create its folder ({err.strerror or err}); choose another output") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}={out}: the folder {out.parent} is not writable; choose another output")


def export_torchscript(module, *, ckpt: Path, output: Path, batch_slices: int = 128) -> tuple[Path, Path]:
    """Writes ``output`` (TorchScript, card inside) and ``<stem>.card.md`` beside it; returns both.

    The file is loaded back and checked against the eager embedder on 3 s of noise before this
    returns (a network whose trace depends on the batch would fail here, not in use).
    """
    from mtl_music.models.embedder import AudioEmbedder, script_embedder

    module = module.cpu().eval()
    embedder = AudioEmbedder.from_module(module, batch_slices=batch_slices)
    card = model_card(module, ckpt=ckpt, embedder=embedder)
    scripted = script_embedder(embedder)
    payload = json.dumps(card, indent=1)
    try:
        with atomic_path(output) as temp:  # a failed export never leaves a half-written file
            torch.jit.save(scripted, str(temp), _extra_files={CARD_ENTRY: payload})
    except OSError as err:
        raise ConfigError(f"output={output}: cannot write it ({err.strerror or err}); choose another output") from None
    loaded = torch.jit.load(str(output), map_location="cpu")
    audio = torch.randn(2, 3 * embedder.sample_rate, generator=torch.Generator().manual_seed(0)) * 0.1
    with torch.no_grad():
        difference = float((loaded(audio) - embedder(audio)).abs().max())
    if not math.isfinite(difference) or difference > 1e-4:
        output.unlink(missing_ok=True)
        raise DataError(f"the exported module differs from the checkpoint's embedder by {difference:g} on a test "
                        "signal; nothing was written (please report this)")
    card_path = output.with_name(f"{output.stem}.card.md")
    write_text_atomic(card_path, card_markdown(card, file_name=output.name))
    return output, card_path


def run(cfg: DictConfig) -> Path:
    """Exports as configured; returns the written model file."""
    fmt = str(cfg.format)
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not supported; choose one of: {', '.join(FORMATS)}")
    ckpt = runs.resolve_checkpoint(cfg.ckpt)
    output = Path(str(cfg.output)).expanduser() if cfg.get("output") else default_output(ckpt)
    if output.is_dir():
        raise ConfigError(f"output={output} is a folder; name the file to write (e.g. {output / (ckpt.stem + '.pt')})")
    _writable_folder(output, what="output")  # before the checkpoint is loaded and traced
    module = runs.load_module(ckpt)
    written, card_path = export_torchscript(module, ckpt=ckpt, output=output, batch_slices=int(cfg.batch_slices))
    print(f"exported {fmt} -> {written} (model card: {card_path})")
    return written


#: The command line: ``python -m mtl_music.export`` / ``mtl-export``.
main = hydra_app("export")(run)


if __name__ == "__main__":
    main()
