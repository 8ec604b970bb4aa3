"""The paper's input representation (R2.2): STFT (Hann 1024, hop 256) → 128-band mel → dB.

:class:`MelSpectrogram` is a ``torch.nn.Module`` that reproduces
``librosa.power_to_db(librosa.feature.melspectrogram(y=..., sr=22050, n_fft=1024,
hop_length=256, n_mels=128), ref=1.0, top_db=80)`` — the same centred framing (zero padding of
``n_fft // 2`` on both sides, librosa's default ``pad_mode="constant"``), the same periodic Hann
window and librosa's (Slaney) mel filter bank — but batched, on any device, and with time before
mel in the output (the network input is channels × time × mel).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from mtl_music.errors import ConfigError

#: Bump when anything that changes cached values changes without changing a setting
#: (window, padding, mel filter normalisation, channel rule, resampler, storage dtype/layout).
FORMAT_VERSION = 1


def centred_frames(n_samples: int, *, hop_length: int) -> int:
    """Frames of a centred STFT (``n_fft // 2`` padding on both sides): ``1 + n_samples // hop``.
    TorchScript-compilable (exported models slice and timestamp with it)."""
    return 1 + n_samples // hop_length


@dataclass(frozen=True)
class MelSettings:
    """Everything that defines the content of a dB-mel spectrogram.

    ``fmax=None`` in a config means ``sample_rate / 2``; it is stored resolved, so both spellings
    give the same :meth:`key`. ``top_db=None`` disables the floor clipping. ``amin`` is the
    power floor before the logarithm (librosa's default).
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    ref: float = 1.0
    top_db: float | None = 80.0
    amin: float = 1e-10

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"frontend.{name}={getattr(self, name)!r} is invalid: {why}; fix it in conf/frontend/ or on the command line")

        for name in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise bad(name, "must be a positive integer")
        nyquist = self.sample_rate / 2
        if self.fmax is None:
            object.__setattr__(self, "fmax", float(nyquist))
        object.__setattr__(self, "fmin", float(self.fmin))
        object.__setattr__(self, "fmax", float(self.fmax))
        if not 0.0 <= self.fmin < self.fmax:
            raise bad("fmin", f"needs 0 <= fmin < fmax (fmax={self.fmax})")
        if self.fmax > nyquist:
            raise bad("fmax", f"must not exceed sample_rate / 2 = {nyquist}")
        if self.hop_length > self.n_fft:
            raise bad("hop_length", f"must not exceed n_fft={self.n_fft} (frames would skip samples)")
        if not self.ref > 0:
            raise bad("ref", "must be > 0")
        if self.top_db is not None:
            object.__setattr__(self, "top_db", float(self.top_db))
            if not self.top_db > 0:
                raise bad("top_db", "must be > 0 (or null to disable clipping)")
        if not self.amin > 0:
            raise bad("amin", "must be > 0")

    @property
    def n_freqs(self) -> int:
        """Number of STFT bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Frames of a centred STFT of ``n_samples`` (2.5 s = 55,125 samples → 216)."""
        return centred_frames(n_samples, hop_length=self.hop_length)

    def samples_for_frames(self, n_frames: int) -> int:
        """The fewest samples that give ``n_frames`` frames."""
        return max(0, (n_frames - 1) * self.hop_length)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def key(self) -> str:
        """A short stable hash of every setting plus :data:`FORMAT_VERSION`: the cache folder name."""
        payload = json.dumps({"format_version": FORMAT_VERSION, **self.as_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "MelSettings":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown frontend setting(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(values))


def mel_settings_from_cfg(frontend: Mapping[str, Any]) -> MelSettings:
    """Builds :class:`MelSettings` from the ``frontend`` config group (a DictConfig or dict)."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(frontend, DictConfig):
            frontend = OmegaConf.to_container(frontend, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    values = dict(frontend)
    values.pop("name", None)  # a config group may carry its own name
    return MelSettings.from_dict(values)


def mel_filter_bank(settings: MelSettings) -> np.ndarray:
    """librosa's (Slaney) mel filter bank for ``settings``: ``(n_mels, n_fft // 2 + 1)`` float32."""
    import librosa

    return librosa.filters.mel(
        sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels,
        fmin=settings.fmin, fmax=settings.fmax, dtype="float32",
    )


class MelSpectrogram(nn.Module):
    """Audio ``(..., channels, samples)`` float32 → dB-mel ``(..., channels, frames, n_mels)`` float32.

    ``frames = 1 + samples // hop_length``. The dB floor (``top_db``) is taken per example: the
    maximum runs over channels, frames and bands of each leading index, exactly as
    ``librosa.power_to_db`` on one track's ``(channels, n_mels, frames)`` array. The filter bank
    and window are buffers, so the module computes on whatever device it was moved to.

    Work is done in blocks of at most ``block_columns`` (signals × frames) STFT columns, written
    into one preallocated output: on CPU, small blocks keep the STFT and power intermediates in
    cache and reuse their allocations, several times faster than one big batched STFT
    (``benchmarks/bench_frontend.py``); it also bounds memory for long files. On other devices
    the default block is large, to keep the accelerator busy. The result does not depend on the
    blocking.

    The module is TorchScript-compilable (``torch.jit.script``): :meth:`forward` reads plain
    int/float copies of the settings, never the :class:`MelSettings` dataclass, so the same
    code computes the mel in Python and in an exported model (``mtl_music.export``).
    """

    #: Default block size on CPU (columns = signals × frames); 1024 columns ≈ 4 MB of STFT.
    CPU_BLOCK_COLUMNS = 1024
    #: Default block size on other devices.
    DEVICE_BLOCK_COLUMNS = 1 << 18

    def __init__(self, settings: MelSettings, *, block_columns: int | None = None,
                 mel_basis: np.ndarray | None = None) -> None:
        """``block_columns``: see the class docstring (``None``: by device). ``mel_basis``: a
        precomputed :func:`mel_filter_bank` of ``settings`` (saves importing librosa, e.g. in
        worker processes); computed here when ``None``."""
        super().__init__()
        self.settings = settings  # Python-side only (repr, cache keys); forward uses the copies below
        # Plain numbers (no Optional, no dataclass) so that TorchScript can compile forward().
        self.n_fft: int = settings.n_fft
        self.hop_length: int = settings.hop_length
        self.n_mels: int = settings.n_mels
        self.amin: float = float(settings.amin)
        self.db_offset: float = 10.0 * math.log10(max(settings.amin, settings.ref))
        self.clip_top_db: bool = settings.top_db is not None
        self.top_db: float = float(settings.top_db) if settings.top_db is not None else 0.0
        self.block_columns: int = int(block_columns or 0)  # 0: by device
        self.cpu_block_columns: int = self.CPU_BLOCK_COLUMNS
        self.device_block_columns: int = self.DEVICE_BLOCK_COLUMNS
        if mel_basis is None:
            mel_basis = mel_filter_bank(settings)
        if mel_basis.shape != (settings.n_mels, settings.n_freqs):
            raise ValueError(f"mel_basis has shape {mel_basis.shape}, expected {(settings.n_mels, settings.n_freqs)}")
        mel_basis = np.asarray(mel_basis, dtype=np.float32)
        # Stored transposed, (n_freqs, n_mels), so power (…, T, F) @ basis gives (…, T, M) directly.
        self.register_buffer("mel_basis_t", torch.from_numpy(mel_basis.T.copy()), persistent=False)
        self.register_buffer("window", torch.hann_window(settings.n_fft, periodic=True), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self._db_inplace(self.power_mel(audio))

    def power_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """Mel power (before dB), ``(..., channels, frames, n_mels)`` float32."""
        if audio.dim() < 2:
            raise ValueError("expected audio shaped (..., channels, samples), got shape " + str(list(audio.shape)))
        device = self.window.device
        lead = audio.shape[:-1]
        n_samples = audio.shape[-1]
        n_signals = 1
        for size in lead:  # not reshape(-1, …): that is ambiguous for zero samples
            n_signals *= size
        flat = audio.reshape(n_signals, n_samples)
        n_frames = centred_frames(n_samples, hop_length=self.hop_length)
        out = torch.empty((n_signals, n_frames, self.n_mels), dtype=torch.float32, device=device)
        columns = self.block_columns
        if columns <= 0:
            columns = self.cpu_block_columns if device.type == "cpu" else self.device_block_columns
        frames_per_block = max(1, min(n_frames, columns))
        signals_per_block = max(1, columns // frames_per_block)
        half = self.n_fft // 2
        for first_signal in range(0, n_signals, signals_per_block):
            last_signal = min(first_signal + signals_per_block, n_signals)
            # center=True with zero ("constant") padding, as librosa; padded once per signal group
            # so that frame blocks are exact slices of the same framing.
            padded = torch.nn.functional.pad(flat[first_signal:last_signal].to(device=device, dtype=torch.float32),
                                             [half, half])
            for first in range(0, n_frames, frames_per_block):
                last = min(first + frames_per_block, n_frames)
                segment = padded[:, first * self.hop_length : (last - 1) * self.hop_length + self.n_fft]
                spec = torch.stft(segment, n_fft=self.n_fft, hop_length=self.hop_length, window=self.window,
                                  center=False, return_complex=True)  # (signals, F, frames)
                power = spec.real.square().add_(spec.imag.square())
                out[first_signal:last_signal, first:last] = torch.matmul(power.transpose(-1, -2), self.mel_basis_t)
        return out.reshape(list(lead) + [n_frames, self.n_mels])

    def to_db(self, power: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
        """``10·log10(max(amin, S) / ref)`` clipped at (per-example max − ``top_db``).

        ``power`` is ``(..., channels, frames, n_mels)``; the max is over the last three axes.
        ``inplace=True`` overwrites ``power`` (no large temporaries).
        """
        return self._db_inplace(power if inplace else power.clone())

    def _db_inplace(self, db: torch.Tensor) -> torch.Tensor:
        """:meth:`to_db` on ``db`` in place (the scriptable body)."""
        db.clamp_(min=self.amin).log10_().mul_(10.0)
        if self.db_offset != 0.0:
            db.sub_(self.db_offset)
        if self.clip_top_db and db.numel() > 0:
            peak = db.flatten(start_dim=max(db.dim() - 3, 0)).amax(dim=-1)
            floor = (peak - self.top_db).reshape(list(peak.shape) + [1] * min(db.dim(), 3))
            torch.maximum(db, floor, out=db)
        return db

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.as_dict().items())
