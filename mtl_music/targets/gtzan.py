"""GTZAN genre collection (Tzanetakis & Cook 2002) with the fault-filtered artist split (R6.4).

Layout under ``root``: ``genres/<genre>/<genre>.<nnnnn>.wav`` (10 genre folders). The original
archive ships ``.au`` files; a listed ``.wav`` that is absent is looked up under the same stem
with any audio extension, so a converted or an original copy both load.

Split: the "fault-filtered" lists of Kereliuk, Sturm & Larsen (2015, "Deep learning and music
adversaries"), which keep each artist on one side and leave out GTZAN's repetitions, mislabelings
and distortions (Sturm 2013). They are packaged here as ``splits/gtzan/{train,valid,test}_filtered.txt``
(443 / 197 / 290 lines such as ``blues/blues.00012.wav``; 930 tracks, the other 70 are excluded),
converted from the authors' list of 1-based positions in the sorted file list (coreyker/dnn-mgr)
and identical to ``torchaudio``'s ``filtered_*`` lists. ``splits()`` folds valid into train, as
the paper does.

The same loader reads any dataset in this layout: ``splits_dir`` names a folder with the same
three files (the demo target ``demo_region`` ships its own), and ``classes: null`` takes the
class folders found on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mtl_music.targets.base import Split, TargetIndex, TargetTrack, predefined_splits
from mtl_music.targets.class_folders import class_folders
from mtl_music.targets.options import TargetOptions

log = logging.getLogger(__name__)

LAYOUT = ("genres/<class>/<class>.<nnnnn>.wav (one folder per genre) plus split lists "
          "{train,valid,test}_filtered.txt with lines '<class>/<file>' (packaged for GTZAN; splits_dir for others)")

#: The packaged fault-filtered lists.
PACKAGED_SPLITS_DIR = Path(__file__).resolve().parent / "splits" / "gtzan"

#: Split name → list file name.
SPLIT_FILES = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}


def read_split_lists(splits_dir: Path, *, options: TargetOptions) -> list[tuple[str, str, str]]:
    """The lines of the three split lists as ``(class, file name, split)``, in file order.

    Raises :class:`~mtl_music.errors.DataError` for a missing list, a line that is not
    ``<class>/<file>``, or a file listed twice (in one list or across lists).
    """
    entries: list[tuple[str, str, str]] = []
    seen: dict[str, str] = {}
    for split, file_name in SPLIT_FILES.items():
        list_path = splits_dir / file_name
        if not list_path.is_file():
            raise options.layout_error(f"split list {list_path} does not exist", fix_key="splits_dir")
        for line_no, raw in enumerate(list_path.read_text(encoding="utf-8-sig").splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            parts = line.replace("\\", "/").split("/")
            if len(parts) != 2 or not all(parts):
                raise options.layout_error(f"{list_path} line {line_no}: {line!r} is not '<class>/<file>'",
                                           fix_key="splits_dir")
            if line in seen:
                raise options.layout_error(f"{list_path} line {line_no}: {line} is already listed in "
                                           f"{SPLIT_FILES[seen[line]]}", fix_key="splits_dir")
            seen[line] = split
            entries.append((parts[0], parts[1], split))
    return entries


def load_index(cfg: Any) -> TargetIndex:
    """Reads a GTZAN-layout target (keys: ``name``, ``root``, ``audio_dir``, ``splits_dir``, ``classes``).

    Returns a classification :class:`TargetIndex` of the listed tracks with audio, sorted by id
    (``"<class>/<stem>"``), each with its split. Listed tracks without audio are logged and left
    out; a class left without tracks, or a list naming an unknown class, is a DataError.
    """
    options = TargetOptions(cfg, dataset="GTZAN", layout=LAYOUT)
    root = options.root()
    audio_dir = options.existing_dir("audio_dir", root / "genres")
    splits_dir = options.path("splits_dir", None) or PACKAGED_SPLITS_DIR
    folders = class_folders(audio_dir, classes=options.names("classes"), options=options)
    classes = tuple(sorted(folders))

    entries = read_split_lists(splits_dir, options=options)
    unknown = sorted({cls for cls, _, _ in entries} - set(classes))
    if unknown:
        raise options.layout_error(f"the split lists in {splits_dir} name class(es) {', '.join(unknown)}, "
                                   f"which are not among the class folders of {audio_dir} ({', '.join(classes)})")
    by_name = {cls: {p.name: p for p in paths} for cls, paths in folders.items()}
    by_stem = {cls: {p.stem: p for p in paths} for cls, paths in folders.items()}
    tracks, missing = [], []
    for cls, file_name, split in entries:
        path = by_name[cls].get(file_name) or by_stem[cls].get(Path(file_name).stem)
        if path is None:
            missing.append(f"{cls}/{file_name}")
            continue
        tracks.append(TargetTrack(track_id=f"{cls}/{Path(file_name).stem}", path=path, label=cls, split=split))
    if missing:
        log.warning("target %s: %d listed track(s) have no audio under %s and are left out (e.g. %s)",
                    options.name, len(missing), audio_dir, ", ".join(missing[:5]))
    empty = [cls for cls in classes if not any(t.label == cls for t in tracks)]
    if empty:
        raise options.layout_error(f"class(es) {', '.join(empty)} have no listed track with audio "
                                   f"(lists: {splits_dir}, audio: {audio_dir})")
    n_on_disk = sum(len(paths) for paths in folders.values())
    if n_on_disk > len(tracks):
        log.info("target %s: %d of %d audio files are in no split list and are excluded", options.name,
                 n_on_disk - len(tracks), n_on_disk)
    tracks.sort(key=lambda t: t.track_id)
    return TargetIndex(name=options.name, loader="gtzan", task="classification", metric="accuracy",
                       tracks=tracks, classes=classes)


def splits(index: TargetIndex, *, n_repetitions: int = 5, seed: int = 0) -> list[Split]:
    """The fault-filtered split, ``n_repetitions`` times: train = train + valid, test = test.
    ``seed`` is unused (the split is fixed; repetitions differ by the probe's seed)."""
    return predefined_splits(index, n_repetitions=n_repetitions)
