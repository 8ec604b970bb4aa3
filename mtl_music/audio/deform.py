"""Audio deformations for the robustness protocol (mir_ref's): the probe is trained on clean
audio and the test part re-scored on deformed audio (``evaluation.deform`` picks the kinds,
``evaluation.deformations`` their strengths; one results row per kind and strength).

A :class:`Deformation` is one kind at one strength. It applies to float32 PCM shaped ``(n,)``
(mono) or ``(C, n)`` and returns the same layout, float32. Its ``name`` is the results'
``condition`` column. The kinds, exactly:

``noise`` (SNR in dB)
    ``y = x + w``, ``w`` white Gaussian noise drawn from ``numpy.random.default_rng(seed)``,
    independent per channel, then scaled so that its power (mean square over every channel and
    sample) is ``P_x / 10^(snr/10)`` exactly, where ``P_x`` is the signal's power: the achieved
    SNR is the asked one. Not clipped (clipping would change the SNR). Silent audio
    (``P_x = 0``) has no SNR and is returned unchanged (logged).
``gain`` (dB)
    ``y = clip(x · 10^(db/20), -1, 1)``.
``lowpass`` (cut-off in Hz)
    a 4th-order Butterworth low-pass (``scipy.signal.butter``, second-order sections) run
    forward and backward (``sosfiltfilt``: zero phase, squared magnitude): −6 dB at the cut-off,
    ≤ −48 dB an octave above (more near Nyquist), −0.03 dB at half the cut-off. The cut-off
    must lie below the Nyquist frequency.
``codec`` (``mp3@<kbit/s>``)
    MP3 re-encoding at a constant bitrate through libsndfile (``soundfile``; LAME inside),
    decoded back with the same library. Delay: libsndfile's decoder (mpg123) removes LAME's
    delay when the file carries LAME's info tag, which small frames have no room for (22,050 Hz
    below 56 kbit/s); then the standard 576 + 529 = 1,105 samples (LAME's encoder delay + the
    decoder's) are cut. The result is trimmed to the input's length. Samples outside [-1, 1]
    clip. The bitrate must be one MPEG defines for the sample rate (:func:`mp3_bitrates`).
``time_stretch`` (rate, > 1 faster)
    ``librosa.effects.time_stretch`` (phase vocoder, n_fft 2048): ``round(n / rate)`` samples,
    pitch unchanged.
``pitch_shift`` (semitones)
    ``librosa.effects.pitch_shift`` (time-stretch by ``2^(-s/12)`` then soxr resampling back to
    the length): every frequency times ``2^(s/12)``, length unchanged.

Why these libraries: libsndfile (already a dependency, ``soundfile>=0.13`` for
``bitrate_mode``/``compression_level``) encodes MP3 at a real constant bitrate; pedalboard's
MP3Compressor takes a VBR quality instead, and pedalboard is a 5 MB binary wheel. librosa (a
dependency) does time-stretch and pitch-shift as audiomentations does by default; pedalboard's
Rubber Band would sound better but would be an extra for two kinds.

Randomness (only ``noise`` draws any) comes from ``seed``; :func:`deformation_seed` is the one
rule for a track's seed, shared by every representation so they hear the same noise.
"""

from __future__ import annotations

import io
import logging
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtl_music.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Every kind, in the order the config lists them, with the name of its strength.
KINDS: dict[str, str] = {"noise": "snr", "gain": "db", "lowpass": "hz", "codec": "", "time_stretch": "rate",
                         "pitch_shift": "semitones"}
#: Codecs of the ``codec`` kind.
CODECS = ("mp3",)
#: Butterworth order of ``lowpass`` (doubled by the forward-backward pass).
LOWPASS_ORDER = 4
#: LAME's encoder delay + mpg123's decoder delay, in samples (cut where the decoder does not).
MP3_DELAY = 576 + 529
#: Sample rates MP3 (MPEG-1, -2 and -2.5 layer III) can carry.
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_MPEG1_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_CODEC_SPEC = re.compile(r"^([a-z0-9]+)@(\d+)$")


def mp3_bitrates(sample_rate: int) -> tuple[int, ...]:
    """The constant bitrates (kbit/s) an MP3 at ``sample_rate`` can have, as libsndfile maps them:
    MPEG-1 (≥ 32 kHz) 32–320, MPEG-2 (16–24 kHz) 8–160, MPEG-2.5 (< 16 kHz) 8–64."""
    if sample_rate >= 32000:
        return _MPEG1_KBPS
    return _MPEG2_KBPS if sample_rate >= 16000 else tuple(k for k in _MPEG2_KBPS if k <= 64)


def _number(value: Any, *, key: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{key}: {value!r} is not a number; give {what}")
    return float(value)


def _checked(kind: str, strength: Any, key: str) -> float | str:
    """``strength`` of ``kind`` normalised (a float, or the codec spec); :class:`ConfigError` naming ``key``."""
    if kind not in KINDS:
        raise ConfigError(f"{key}: unknown deformation {kind!r}; choose among {', '.join(KINDS)}")
    if kind == "codec":
        match = _CODEC_SPEC.match(str(strength).strip().lower())
        if not match or match.group(1) not in CODECS:
            raise ConfigError(f"{key}: {strength!r} is not <codec>@<kbit/s>; write e.g. mp3@64 "
                              f"(codecs: {', '.join(CODECS)})")
        return f"{match.group(1)}@{int(match.group(2))}"
    what = {"noise": "an SNR in dB", "gain": "a gain in dB", "lowpass": "a cut-off in Hz",
            "time_stretch": "a rate (> 1 faster)", "pitch_shift": "a shift in semitones"}[kind]
    value = _number(strength, key=key, what=what)
    if kind in ("lowpass", "time_stretch") and value <= 0:
        raise ConfigError(f"{key}: {strength!r} must be positive; give {what}")
    return value


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Deformation:
    """One deformation: ``kind`` (a key of :data:`KINDS`) at ``strength`` (see the module docstring)."""

    kind: str
    strength: float | str

    def __post_init__(self) -> None:
        object.__setattr__(self, "strength", _checked(self.kind, self.strength, f"evaluation.deformations.{self.kind}"))

    @property
    def name(self) -> str:
        """The results' condition: ``noise:snr=10``, ``codec:mp3@64``, ``time_stretch:rate=0.8``, ..."""
        if self.kind == "codec":
            return f"codec:{self.strength}"
        return f"{self.kind}:{KINDS[self.kind]}={_format(self.strength)}"

    @property
    def key(self) -> str:
        """:attr:`name` spelt with ``[a-z0-9_]`` only (cache file names): ``noise_snr10``,
        ``gain_dbm12``, ``codec_mp3_64``, ``time_stretch_rate0p8``."""
        return re.sub(r"[^a-z0-9_]", "", self.name.replace(":", "_").replace("@", "_").replace("=", "")
                      .replace("-", "m").replace(".", "p"))

    def check_rate(self, sample_rate: int) -> None:
        """:class:`ConfigError` when this deformation cannot apply at ``sample_rate`` (a cut-off at or
        above Nyquist, a bitrate MP3 lacks at that rate)."""
        key = f"evaluation.deformations.{self.kind}"
        if self.kind == "lowpass" and self.strength >= sample_rate / 2:
            raise ConfigError(f"{key}: cut-off {_format(self.strength)} Hz is not below the Nyquist frequency "
                              f"({sample_rate / 2:g} Hz at {sample_rate} Hz); give a lower cut-off")
        if self.kind == "codec":
            if sample_rate not in MP3_RATES:
                raise ConfigError(f"{key}: MP3 cannot carry {sample_rate} Hz audio (rates: "
                                  f"{', '.join(map(str, MP3_RATES))}); resample first or drop the codec deformation")
            kbps = int(str(self.strength).split("@")[1])
            allowed = mp3_bitrates(sample_rate)
            if kbps not in allowed:
                raise ConfigError(f"{key}: {self.strength} is not an MP3 bitrate at {sample_rate} Hz; choose one of "
                                  f"{', '.join(map(str, allowed))} kbit/s")

    def apply(self, audio: np.ndarray, *, sample_rate: int, seed: int) -> np.ndarray:
        """The deformed ``audio``: (n,) or (C, n) float in, the same layout float32 out (n changes
        for ``time_stretch`` only). Deterministic for a ``seed``."""
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim not in (1, 2) or x.shape[-1] == 0:
            raise DataError(f"{self.name}: audio must be (n,) or (channels, n) with n > 0, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise DataError(f"{self.name}: audio holds NaN or infinite samples; re-decode the file")
        self.check_rate(int(sample_rate))
        y = _APPLY[self.kind](np.atleast_2d(x), self.strength, int(sample_rate), int(seed))
        return np.ascontiguousarray(y[0] if x.ndim == 1 else y, dtype=np.float32)


def _noise(x: np.ndarray, snr: float, sample_rate: int, seed: int) -> np.ndarray:
    power = float(np.mean(np.square(x, dtype=np.float64)))
    if power == 0.0:
        log.info("noise:snr=%s: silent audio has no SNR; left unchanged", _format(snr))
        return x
    w = np.random.default_rng(seed).standard_normal(x.shape)
    w *= math.sqrt(power / 10 ** (snr / 10) / np.mean(np.square(w)))
    return x + w


def _gain(x: np.ndarray, db: float, sample_rate: int, seed: int) -> np.ndarray:
    return np.clip(x * np.float32(10 ** (db / 20)), -1.0, 1.0)


def _lowpass(x: np.ndarray, hz: float, sample_rate: int, seed: int) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(LOWPASS_ORDER, hz, btype="low", fs=sample_rate, output="sos")
    # sosfiltfilt pads by 3 × the filter length; shorter clips get what they have.
    padlen = min(3 * (2 * len(sos) + 1), x.shape[-1] - 1)
    return sosfiltfilt(sos, x.astype(np.float64), axis=-1, padlen=max(padlen, 0))


def encode_mp3(*, audio: np.ndarray, sample_rate: int, kbps: int) -> bytes:
    """``audio`` ((C, n) float, C ≤ 2) as a constant-bitrate MP3 file's bytes (libsndfile/LAME)."""
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        raise DataError(f"this libsndfile ({sf.__libsndfile_version__}) cannot write MP3, which the codec "
                        "deformation needs; run `pip install -U soundfile` (its wheels bundle libsndfile >= 1.1)")
    allowed = mp3_bitrates(sample_rate)
    low, high = allowed[0], allowed[-1]
    # libsndfile maps compression c to int(high - c·(high - low)) kbit/s; the 0.25 keeps the int() on kbps.
    level = min(max((high - kbps - 0.25) / (high - low), 0.0), 1.0)
    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, dtype=np.float32).T, sample_rate, format="MP3", subtype="MPEG_LAYER_III",
             bitrate_mode="CONSTANT", compression_level=level)
    return buffer.getvalue()


def decode_mp3(data: bytes, *, sample_rate: int, length: int) -> np.ndarray:
    """MP3 bytes of :func:`encode_mp3` back to (C, ``length``) float32 at ``sample_rate``, aligned
    with the encoded input (see the module docstring for the delay rule)."""
    import soundfile as sf

    y, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    y = y.T
    if rate != sample_rate:  # LAME keeps the rate it is given; a safety net for other builds
        import soxr

        y = soxr.resample(y.T, rate, sample_rate, quality="HQ").T
    if y.shape[1] != length:  # not gapless-decoded: the delay is still in front
        y = y[:, MP3_DELAY:]
    out = np.zeros((y.shape[0], length), np.float32)
    out[:, :min(length, y.shape[1])] = y[:, :length]
    return out


def _codec(x: np.ndarray, spec: str, sample_rate: int, seed: int) -> np.ndarray:
    kbps = int(spec.split("@")[1])
    groups = [x] if x.shape[0] <= 2 else [x[i:i + 1] for i in range(x.shape[0])]  # MP3 holds ≤ 2 channels
    return np.concatenate([decode_mp3(encode_mp3(audio=g, sample_rate=sample_rate, kbps=kbps),
                                      sample_rate=sample_rate, length=x.shape[1]) for g in groups])


def _time_stretch(x: np.ndarray, rate: float, sample_rate: int, seed: int) -> np.ndarray:
    import librosa

    return librosa.effects.time_stretch(x, rate=rate)


def _pitch_shift(x: np.ndarray, semitones: float, sample_rate: int, seed: int) -> np.ndarray:
    import librosa

    return librosa.effects.pitch_shift(x, sr=sample_rate, n_steps=semitones)


_APPLY = {"noise": _noise, "gain": _gain, "lowpass": _lowpass, "codec": _codec, "time_stretch": _time_stretch,
          "pitch_shift": _pitch_shift}


def deformations_from(settings, *, sample_rate: int = 22050) -> list[Deformation]:
    """Every kind of ``settings.deform`` × each strength ``settings.deformations`` lists for it, in
    that order (``settings``: an :class:`~mtl_music.evaluation.settings.EvaluationSettings`).

    ``sample_rate``: the rate the audio is deformed at (the project's PCM rate by default), against
    which cut-offs and bitrates are checked. :class:`ConfigError` naming the key
    (``evaluation.deformations.<kind>``) for an unknown kind or a bad strength.
    """
    table: Mapping[str, Sequence[Any]] = settings.deformations
    out: list[Deformation] = []
    for kind in settings.deform:
        key = f"evaluation.deformations.{kind}"
        if kind not in KINDS:
            raise ConfigError(f"evaluation.deform: unknown deformation {kind!r}; choose among {', '.join(KINDS)}")
        strengths = table.get(kind)
        if strengths is None:
            raise ConfigError(f"evaluation.deform names {kind!r}, which evaluation.deformations does not define; "
                              f"add e.g. {key}=[...]")
        if isinstance(strengths, (str, int, float)):
            strengths = [strengths]
        if not strengths:
            raise ConfigError(f"{key} is empty; list at least one strength or leave {kind} out of evaluation.deform")
        for strength in strengths:
            deformation = Deformation(kind, strength)
            deformation.check_rate(sample_rate)
            out.append(deformation)
    return out


def deformation_seed(track_id: str, deformation: Deformation) -> int:
    """The seed of ``track_id``'s audio under ``deformation``: CRC-32 of ``"<track_id>|<name>"``,
    stable across processes and runs (unlike ``hash``), different per track and per deformation."""
    return zlib.crc32(f"{track_id}|{deformation.name}".encode("utf-8"))


__all__ = ["CODECS", "KINDS", "MP3_DELAY", "Deformation", "decode_mp3", "deformation_seed", "deformations_from",
           "encode_mp3", "mp3_bitrates"]
