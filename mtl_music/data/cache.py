"""The mel cache of one dataset: its on-disk layout and the read-only :class:`MelCache`.

One folder per dataset and front-end setting, ``<data.cache_dir>/<MelSettings.key()>/``:

=================  ===========================================================================
``settings.json``  the :class:`~mtl_music.audio.MelSettings`, format version and key; checked on open
``mels.f16``       every track's full-length dB-mel, raw float16, C order, shaped
                   ``(total_frames, 2, n_mels)``: a track is a contiguous range of rows, a crop
                   a contiguous slice. Append-only.
``index.tsv``      the append-only journal of entries (one line per computed track, written
                   after its rows are on disk; see :mod:`mtl_music.data.writer`)
``tracks.tsv``     the dataset as of the last finished ``prepare``: id, split, rows, floor,
                   path, notes — what :class:`MelCache` reads
``stats.npz``      per-band mean and standard deviation over the training split
``report.tsv``     the last ``prepare``'s skipped files and notes
=================  ===========================================================================

float16 keeps dB values to within 0.03 dB for magnitudes below 64 dB (0.06 dB below 128 dB),
two orders of magnitude below a band's standard deviation over music, at half the size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mtl_music.audio.mel import FORMAT_VERSION, MelSettings, mel_settings_from_cfg
from mtl_music.errors import DataError

SETTINGS_FILE = "settings.json"
DATA_FILE = "mels.f16"
INDEX_FILE = "index.tsv"
TRACKS_FILE = "tracks.tsv"
STATS_FILE = "stats.npz"
REPORT_FILE = "report.tsv"
LOCK_FILE = ".lock"
DTYPE = np.dtype("<f2")
N_CHANNELS = 2
TRACKS_COLUMNS = ("track_id", "split", "offset", "n_frames", "floor", "path", "notes")
#: Smallest standard deviation used for standardisation, in dB: a band that is constant over the
#: training split must not blow up (x - mean) / std.
MIN_STD = 1e-3


def cache_dir_for(cfg: Any) -> Path:
    """The cache folder of a composed config: ``<cfg.data.cache_dir>/<key of cfg.frontend>``."""
    return Path(str(cfg.data.cache_dir)).expanduser() / mel_settings_from_cfg(cfg.frontend).key()


def settings_payload(settings: MelSettings) -> dict[str, Any]:
    """What ``settings.json`` holds."""
    return {
        "format_version": FORMAT_VERSION,
        "key": settings.key(),
        "settings": settings.as_dict(),
        "layout": f"{DTYPE.str} C-order (total_frames, {N_CHANNELS}, n_mels)",
    }


def read_settings(directory: Path) -> MelSettings:
    """Reads and checks ``settings.json``: format version, and that its key names the folder."""
    file = directory / SETTINGS_FILE
    try:
        payload = json.loads(file.read_text())
        settings = MelSettings.from_dict(payload["settings"])
        version = int(payload["format_version"])
    except FileNotFoundError:
        raise DataError(f"{directory} is not a mel cache (no {SETTINGS_FILE}); run `python -m mtl_music.prepare` for the dataset") from None
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{file} is unreadable ({err}); delete {directory} and run prepare again") from err
    if version != FORMAT_VERSION:
        raise DataError(
            f"mel cache {directory} has format version {version}, this mtl_music writes {FORMAT_VERSION}; "
            "run prepare again (it writes a new cache folder)"
        )
    if settings.key() != directory.name:
        raise DataError(
            f"mel cache {directory}: its {SETTINGS_FILE} gives key {settings.key()}, but the folder is named "
            f"{directory.name}; the folder was renamed or edited — delete it and run prepare again"
        )
    return settings


def train_key(rows: Sequence[tuple[str, int, int]]) -> str:
    """Identifies a set of training entries ``(track_id, offset, n_frames)``: stats are reused
    only while it is unchanged."""
    digest = hashlib.sha256()
    for track_id, offset, n_frames in sorted(rows):
        digest.update(f"{track_id}\t{offset}\t{n_frames}\n".encode())
    return digest.hexdigest()


def clean_field(text: str) -> str:
    """``text`` made safe for one TSV field: tabs and line breaks become spaces."""
    return " ".join(str(text).replace("\t", " ").splitlines())


class MelCache:
    """Read-only view of a prepared mel cache.

    Attributes: ``path`` (the cache folder), ``settings``, ``track_ids`` (list of str),
    ``splits`` (``np.ndarray`` of str, per track), ``n_frames``, ``offsets`` (int64 rows),
    ``floors`` (float32, each track's minimum dB value, used to pad), ``paths`` (source audio),
    ``notes`` (per track, from ``prepare``), ``mean``/``std`` (``(n_mels,)`` float32, training
    split statistics).

    Picklable: the memory map is opened lazily on first use in each process and is not pickled,
    so the cache can go to ``DataLoader`` workers.
    """

    def __init__(self, directory: str | os.PathLike, *, settings: MelSettings | None = None) -> None:
        self.path = Path(directory)
        if not self.path.is_dir():
            raise DataError(f"no mel cache at {self.path}; run `python -m mtl_music.prepare data=<dataset>` first")
        self.settings = read_settings(self.path)
        if settings is not None and settings != self.settings:
            raise DataError(f"mel cache {self.path} was computed with {self.settings}, not the requested {settings}")
        self._read_tracks()
        self._read_stats()
        self._data: np.memmap | None = None
        self._data_pid: int | None = None

    @classmethod
    def open(cls, path_or_dir: str | os.PathLike, *, settings: MelSettings | None = None) -> "MelCache":
        """Opens a cache folder, a file inside one, or a ``cache_dir`` that holds exactly one cache."""
        path = Path(path_or_dir).expanduser()
        if path.is_file():
            path = path.parent
        if path.is_dir() and not (path / SETTINGS_FILE).exists():
            candidates = sorted(p for p in path.iterdir() if (p / SETTINGS_FILE).exists())
            if settings is not None and (path / settings.key()).is_dir():
                candidates = [path / settings.key()]
            if len(candidates) == 1:
                path = candidates[0]
            elif candidates:
                raise DataError(
                    f"{path} holds {len(candidates)} mel caches ({', '.join(p.name for p in candidates)}); open one "
                    "of them, or use mtl_music.data.cache_dir_for(cfg) to pick the one of your front-end settings"
                )
        return cls(path, settings=settings)

    # ------------------------------------------------------------------ reading
    def _read_tracks(self) -> None:
        file = self.path / TRACKS_FILE
        if not file.exists():
            raise DataError(
                f"mel cache {self.path} is incomplete (no {TRACKS_FILE}): its prepare did not finish; "
                "run prepare again, it resumes where it stopped"
            )
        reader = csv.reader(io.StringIO(file.read_text(encoding="utf-8")), delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header) != TRACKS_COLUMNS:
            raise DataError(f"{file} has an unexpected header {header}; delete {self.path} and run prepare again")
        rows = [row for row in reader if row]
        self.track_ids: list[str] = [row[0] for row in rows]
        self.splits = np.array([row[1] for row in rows], dtype=str)
        self.offsets = np.array([int(row[2]) for row in rows], dtype=np.int64)
        self.n_frames = np.array([int(row[3]) for row in rows], dtype=np.int64)
        self.floors = np.array([float(row[4]) for row in rows], dtype=np.float32)
        self.paths: list[str] = [row[5] for row in rows]
        self.notes: list[str] = [row[6] for row in rows]
        self._position = {track_id: i for i, track_id in enumerate(self.track_ids)}
        self._n_rows = os.path.getsize(self.path / DATA_FILE) // self.frame_bytes if (self.path / DATA_FILE).exists() else 0
        if len(self.track_ids) and int((self.offsets + self.n_frames).max()) > self._n_rows:
            raise DataError(f"mel cache {self.path}: {TRACKS_FILE} points past the end of {DATA_FILE}; run prepare again")

    def _read_stats(self) -> None:
        file = self.path / STATS_FILE
        self._mean = self._std = None
        self._stats_note = f"no {STATS_FILE}; run prepare again"
        if not file.exists():
            return
        with np.load(file) as stats:
            key = str(stats["train_key"])
            has_stats = bool(stats["has_stats"])
            mean, std = stats["mean"].astype(np.float32), stats["std"].astype(np.float32)
        train = self.splits == "train"
        expected = train_key([(self.track_ids[i], int(self.offsets[i]), int(self.n_frames[i])) for i in np.flatnonzero(train)])
        if key != expected:
            self._stats_note = f"{STATS_FILE} does not belong to the current training split (prepare was interrupted); run prepare again"
        elif not has_stats:
            self._stats_note = "the cache has no training track, so no band statistics; use standardize=False (or a checkpoint's statistics)"
        else:
            self._mean, self._std = mean, np.maximum(std, MIN_STD)

    @property
    def frame_bytes(self) -> int:
        return N_CHANNELS * self.settings.n_mels * DTYPE.itemsize

    @property
    def mean(self) -> np.ndarray:
        """Per-band mean over the training split, ``(n_mels,)`` float32."""
        if self._mean is None:
            raise DataError(f"mel cache {self.path}: {self._stats_note}")
        return self._mean

    @property
    def std(self) -> np.ndarray:
        """Per-band standard deviation over the training split (at least ``MIN_STD``), ``(n_mels,)`` float32."""
        if self._std is None:
            raise DataError(f"mel cache {self.path}: {self._stats_note}")
        return self._std

    @property
    def has_stats(self) -> bool:
        return self._mean is not None

    @property
    def data(self) -> np.ndarray:
        """The whole data file as a read-only memmap ``(total_frames, 2, n_mels)`` float16."""
        if self._data is None or self._data_pid != os.getpid():
            if self._n_rows == 0:
                self._data = np.zeros((0, N_CHANNELS, self.settings.n_mels), DTYPE)
            else:
                self._data = np.memmap(self.path / DATA_FILE, dtype=DTYPE, mode="r",
                                       shape=(self._n_rows, N_CHANNELS, self.settings.n_mels))
            self._data_pid = os.getpid()
        return self._data

    def __len__(self) -> int:
        return len(self.track_ids)

    def __repr__(self) -> str:
        counts = {s: int((self.splits == s).sum()) for s in ("train", "valid", "test")}
        return f"MelCache({str(self.path)!r}, tracks={len(self)}, {counts})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_data"] = None
        state["_data_pid"] = None
        return state

    def index_of(self, track_id: str) -> int:
        """Position of ``track_id``; :class:`~mtl_music.errors.DataError` when it is not cached."""
        try:
            return self._position[track_id]
        except KeyError:
            raise DataError(f"track {track_id!r} is not in mel cache {self.path} (not in the manifest, or skipped: see {REPORT_FILE})") from None

    def indices(self, split: str) -> np.ndarray:
        """Positions of the tracks of ``split`` (``train``, ``valid`` or ``test``), int64."""
        return np.flatnonzero(self.splits == split)

    def rows(self, i: int) -> np.ndarray:
        """Track ``i`` as stored: a memmap view ``(n_frames, 2, n_mels)`` float16."""
        offset = int(self.offsets[i])
        return self.data[offset : offset + int(self.n_frames[i])]

    def track(self, i: int) -> np.ndarray:
        """Track ``i``'s full dB-mel, ``(2, n_frames, n_mels)`` float16 (a read-only view)."""
        return self.rows(i).transpose(1, 0, 2)
