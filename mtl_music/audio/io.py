"""Reading audio files into the project's one PCM layout: float32, 2 channels, 22,050 Hz (R2.1).

Decoding goes through ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3, AIFF,
...), which can seek, so ``offset``/``duration`` read only that part of the file. Where
libsndfile cannot decode a file (e.g. M4A/AAC), ``audioread`` is tried (it uses ffmpeg or
GStreamer when they are installed); it cannot seek, so it decodes up to ``offset + duration``.

Channel rule: mono is duplicated to both channels; stereo is kept; for more than two channels
the first two are taken as left/right (the WAV/FLAC convention) and all further channels are
averaged into one centre signal that is mixed equally into both sides, each side then halved
(``L = (ch0 + centre) / 2``, ``R = (ch1 + centre) / 2``) so the mix cannot clip.

Resampling uses soxr at "HQ" quality, called directly (it is exactly librosa's default
``res_type="soxr_hq"``, without importing librosa in every prepare worker). Measured in
``benchmarks/bench_prepare.py`` against a signal synthesised natively at 22,050 Hz: "MQ", "HQ"
and "VHQ" all agree with it within 0.001 dB in every mel band below ~10 kHz (bands 0–124 of
128); in the top 2–3 bands every quality attenuates by design (the anti-aliasing transition
band just below Nyquist), and "VHQ" is no closer there. HQ is librosa's and soxr's default,
as accurate as VHQ where it matters and a little cheaper.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mtl_music.errors import AudioError

#: File extensions that :func:`mtl_music.data.manifest.scan_audio_dir` treats as audio.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au",
     ".m4a", ".aac", ".wma"}
)

#: soxr quality used for every resampling (see the module docstring for the choice).
RESAMPLE_QUALITY = "HQ"

#: Default silence threshold: a file whose peak level is below this is treated as silent.
SILENCE_DBFS = -60.0


@dataclass(frozen=True)
class DecodedAudio:
    """A decoded file.

    ``samples``: float32, shape ``(2, n_samples)`` at ``sample_rate``.
    ``source_rate``/``source_channels``: what the file holds (before resampling/channel rule).
    ``decoder``: ``"soundfile"`` or ``"audioread"``.
    """

    samples: np.ndarray
    sample_rate: int
    source_rate: int
    source_channels: int
    decoder: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.samples.shape[-1] / self.sample_rate

    @property
    def resampled(self) -> bool:
        return self.source_rate != self.sample_rate


def load_audio(
    path: str | os.PathLike, *, sample_rate: int = 22050, offset: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Reads ``path`` as float32 stereo PCM of shape ``(2, n_samples)`` at ``sample_rate``.

    ``offset`` and ``duration`` (seconds) select a part of the file; only that part is decoded
    when the decoder can seek. Raises :class:`~mtl_music.errors.AudioError` naming the file
    when it is missing, unreadable or corrupt.
    """
    return decode_audio(path, sample_rate=sample_rate, offset=offset, duration=duration).samples


def decode_audio(
    path: str | os.PathLike, *, sample_rate: int = 22050, offset: float = 0.0, duration: float | None = None
) -> DecodedAudio:
    """Like :func:`load_audio`, but also says what the file held (rate, channels, decoder)."""
    path = Path(path)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"offset and duration must be >= 0, got offset={offset}, duration={duration}")
    if not path.is_file():
        what = "is a folder, not an audio file" if path.is_dir() else "does not exist"
        raise AudioError(f"audio file {path} {what}; fix the path (or the manifest row that names it)")

    try:
        frames, source_rate, decoder = _read_soundfile(path, offset=offset, duration=duration)
    except _SoundfileFailed as sf_error:
        frames, source_rate, decoder = _read_audioread(path, offset=offset, duration=duration, first_error=sf_error)

    if source_rate <= 0:
        raise AudioError(
            f"cannot determine the sample rate of {path} (the header says {source_rate} Hz); "
            "re-export the file with its true sample rate"
        )
    if frames.size and not np.isfinite(frames).all():
        raise AudioError(f"{path} holds NaN or infinite samples (a corrupt float file); re-export it")

    source_channels = frames.shape[1]
    stereo = to_stereo(frames.T)
    if source_rate != sample_rate and stereo.shape[1] > 0:
        import soxr

        # soxr wants (frames, channels); the result comes back in that layout too.
        stereo = soxr.resample(np.ascontiguousarray(stereo.T), source_rate, sample_rate, quality=RESAMPLE_QUALITY).T
    stereo = np.ascontiguousarray(stereo, dtype=np.float32)
    return DecodedAudio(stereo, sample_rate, int(source_rate), int(source_channels), decoder)


def to_stereo(channels: np.ndarray) -> np.ndarray:
    """Applies the channel rule to ``(n_channels, n_samples)`` PCM; returns ``(2, n_samples)``.

    Mono is duplicated, stereo kept, and for more channels ``L = (ch0 + c) / 2``,
    ``R = (ch1 + c) / 2`` with ``c`` the mean of channels 2 and up. The rule itself is
    :func:`stereo_tensor` (one definition for files, ``mtl_music.embed`` and exported models).
    """
    channels = np.asarray(channels)
    if any(stride < 0 for stride in channels.strides):  # torch.from_numpy takes no reversed views
        channels = np.ascontiguousarray(channels)
    return stereo_tensor(torch.from_numpy(channels)).numpy()


def stereo_tensor(channels: torch.Tensor) -> torch.Tensor:
    """The channel rule of :func:`to_stereo` on a tensor: ``(n_channels, n_samples)`` →
    ``(2, n_samples)``. TorchScript-compilable (exported models apply it to raw input)."""
    n_channels = channels.shape[0]
    if n_channels == 0:
        raise ValueError("audio with zero channels")
    if n_channels == 1:
        return torch.cat([channels, channels], dim=0)
    if n_channels == 2:
        return channels
    centre = channels[2:].mean(dim=0)
    return torch.stack([(channels[0] + centre) * 0.5, (channels[1] + centre) * 0.5])


def peak_dbfs(samples: np.ndarray) -> float:
    """Peak level of PCM in dB relative to full scale (1.0); ``-inf`` for all-zero or empty."""
    if samples.size == 0:
        return float("-inf")
    peak = float(np.max(np.abs(samples)))
    return 20.0 * np.log10(peak) if peak > 0 else float("-inf")


def is_silent(samples: np.ndarray, *, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True when the peak level is below ``threshold_dbfs`` (all-zero files included).

    The default, −60 dBFS (peak amplitude 0.001), sits far below any real recording (music peaks
    near 0 dBFS, quiet classical passages rarely peak below −30 dBFS) and well above a lone
    dither/noise floor (16-bit dither peaks around −90 dBFS): such files carry no music.
    """
    return peak_dbfs(samples) < threshold_dbfs


# ----------------------------------------------------------------------------- decoders
class _SoundfileFailed(Exception):
    pass


def _read_soundfile(path: Path, *, offset: float, duration: float | None) -> tuple[np.ndarray, int, str]:
    """Returns ``(frames (n, channels) float32, rate, "soundfile")``; seeks to ``offset``."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as handle:
            rate = int(handle.samplerate)
            start = int(round(offset * rate)) if rate > 0 else 0
            count = -1 if duration is None else int(round(duration * rate))
            if start > 0:
                if start >= handle.frames > 0:
                    return np.zeros((0, handle.channels), np.float32), rate, "soundfile"
                if handle.seekable():
                    handle.seek(start)
                else:  # decode and drop what precedes offset
                    handle.read(start, dtype="float32", always_2d=True)
            frames = handle.read(count, dtype="float32", always_2d=True)
            return frames, rate, "soundfile"
    except (RuntimeError, sf.SoundFileError, ValueError, TypeError, EOFError) as err:  # libsndfile errors
        raise _SoundfileFailed(str(err)) from err


def _read_audioread(
    path: Path, *, offset: float, duration: float | None, first_error: Exception
) -> tuple[np.ndarray, int, str]:
    """The fallback for formats libsndfile cannot decode; decodes 16-bit blocks sequentially."""
    header_rate = _wav_header_rate(path)
    if header_rate == 0:
        raise AudioError(
            f"cannot determine the sample rate of {path}: its WAV header gives 0 Hz; "
            "re-export the file with its true sample rate"
        )
    try:
        import audioread

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with audioread.audio_open(str(path)) as handle:
                rate, n_channels = int(handle.samplerate), int(handle.channels)
                start = int(round(offset * rate)) * n_channels
                stop = None if duration is None else start + int(round(duration * rate)) * n_channels
                blocks, seen = [], 0
                for buffer in handle:
                    block = np.frombuffer(buffer, dtype="<i2")
                    lo, hi = max(start - seen, 0), block.size if stop is None else min(stop - seen, block.size)
                    if hi > lo:
                        blocks.append(block[lo:hi])
                    seen += block.size
                    if stop is not None and seen >= stop:
                        break
        interleaved = np.concatenate(blocks) if blocks else np.zeros(0, "<i2")
        interleaved = interleaved[: interleaved.size - interleaved.size % max(n_channels, 1)]
        frames = (interleaved.astype(np.float32) / 32768.0).reshape(-1, max(n_channels, 1))
        return frames, rate, "audioread"
    except Exception as err:  # noqa: BLE001 - every backend failure means the same thing here
        first = str(first_error)
        if "does not exist" in first:  # libsndfile's words for "no format matched" on some inputs
            first = "not a format it recognises"
        second = str(err) or ("no decoder installed for this format" if type(err).__name__ == "NoBackendError" else "")
        raise AudioError(
            f"cannot decode audio file {path} (libsndfile: {first}; audioread: {type(err).__name__}"
            f"{': ' + second if second else ''}). The file is corrupt or in a format libsndfile cannot read; "
            "convert it to WAV or FLAC (e.g. `ffmpeg -i IN OUT.flac`) or install ffmpeg so audioread can decode it"
        ) from err


def _wav_header_rate(path: Path) -> int | None:
    """The sample rate field of a RIFF/WAVE ``fmt `` chunk, or ``None`` when not a WAV file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    position = 12
    while position + 8 <= len(head):
        chunk_id, size = head[position : position + 4], struct.unpack("<I", head[position + 4 : position + 8])[0]
        if chunk_id == b"fmt " and position + 16 <= len(head):
            return struct.unpack("<I", head[position + 12 : position + 16])[0]
        position += 8 + size + (size & 1)
    return None
