"""Raw audio -> the learned representation, as one ``nn.Module`` (SPEC R6.1 features).

:class:`AudioEmbedder` is the single code path from PCM to vectors: the channel rule of
:func:`~mtl_music.audio.io.stereo_tensor`, the mel front end
(:class:`~mtl_music.audio.mel.MelSpectrogram`), slicing into 2.5 s windows
(:func:`frame_windows`), standardisation with the checkpoint's training-band statistics, the
network's representation and the summary over slices
(:func:`summarize_slices`). ``mtl_music.embed``, the HEAR API
(:mod:`mtl_music.hear`) and the TorchScript export (:mod:`mtl_music.export`) all run it, so
their vectors agree by construction.

It is TorchScript-compilable once its network is a traced graph (:func:`script_embedder`):
the conv network itself (Python checks, ``ModuleDict`` branches) is traced on
``(B, 2, slice_frames, n_mels)`` with a dynamic batch, and everything around it is scripted.

Timestamps (:meth:`AudioEmbedder.timestamp_embeddings`): one embedding every ``hop_frames``
STFT frames (11.6 ms each at 22,050 Hz / hop 256), timestamp ``k`` at frame ``k·hop_frames``
(``k·hop_frames·hop_length / sample_rate`` s). Its window is the ``slice_frames`` (216) frames
``[c − 108, c + 108)`` around that frame ``c``: an even number of frames cannot be centred on one
frame, so the window's midpoint lies half a frame (5.8 ms) before the timestamp. Frames outside
the audio are the track's floor (its lowest dB value), as for the last slice of a track.
"""

from __future__ import annotations

import warnings
from typing import List, Tuple

import torch
from torch import nn

from mtl_music.audio.io import stereo_tensor
from mtl_music.audio.mel import MelSpectrogram, centred_frames

#: Default timestamp hop in STFT frames: 4 × 256 / 22,050 Hz = 46.4 ms (HEAR asks for <= 50 ms).
DEFAULT_HOP_FRAMES = 4


def frame_windows(mel_db: torch.Tensor, *, start: int, step: int, count: int, size: int) -> torch.Tensor:
    """``(C, frames, M)`` dB-mel -> ``(count, C, size, M)``: window ``k`` holds frames
    ``[start + k·step, start + k·step + size)``. Frames before 0 or past the end are the track's
    floor (its minimum value over channels, frames and bands). The windows are views into one
    padded copy of the track (overlapping windows cost no memory until used)."""
    frames = mel_db.shape[1]
    end = start + (count - 1) * step + size
    before = max(0, -start)
    after = max(0, end - frames)
    padded = mel_db.new_full((mel_db.shape[0], before + frames + after, mel_db.shape[2]), float(mel_db.min()))
    padded[:, before:before + frames] = mel_db
    region = padded[:, start + before:end + before]
    return region.unfold(1, size, step).permute(1, 0, 3, 2)  # (C, count, M, size) -> (count, C, size, M)


def track_slices(mel_db: torch.Tensor, *, slice_frames: int) -> torch.Tensor:
    """``(2, frames, M)`` dB-mel -> ``(ceil(frames / slice_frames), 2, slice_frames, M)``
    non-overlapping slices; the last is padded with the track's own floor, as the mel cache's
    slicer does (at least one slice, however short the track)."""
    frames = mel_db.shape[1]
    count = max(1, (frames + slice_frames - 1) // slice_frames)
    return frame_windows(mel_db, start=0, step=slice_frames, count=count, size=slice_frames)



def summarize_slices(features: torch.Tensor) -> torch.Tensor:
    """``(n_slices, D)`` -> ``(2·D,)``: mean then (population) standard deviation over slices."""
    features = features.double()
    return torch.cat([features.mean(0), features.std(0, unbiased=False)]).float()

class ModuleRepresentation(nn.Module):
    """``(B, 2, T, M)`` standardised slices -> ``(B, D)``: what
    :meth:`~mtl_music.training.MultiSourceModule.representation` computes, holding only the
    network (a LightningModule cannot be traced: its ``trainer`` property raises when unattached)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.network = module.network
        self.channels_last = bool(getattr(module, "channels_last", False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:  # as MultiSourceModule._input: the layout the network trained in
            x = x.contiguous(memory_format=torch.channels_last)
        return self.network.representation(x)


class AudioEmbedder(nn.Module):
    """Audio at :attr:`sample_rate` -> mean ‖ std of the representation over 2.5 s slices.

    Audio is ``(samples,)`` mono or ``(channels, samples)``; mono is duplicated and more than two
    channels down-mixed (:func:`~mtl_music.audio.io.stereo_tensor`, the rule of ``load_audio``).
    Any length works: a track shorter than one slice gives one slice padded with its floor.
    All-silent audio gives a finite vector (every band at the dB floor of ``amin``);
    ``mtl_music.embed`` skips such files before they get here. Results are on the module's device.

    Attributes (plain ints, also on the TorchScript export): ``sample_rate``, ``hop_length``
    (samples per STFT frame), ``slice_frames``, ``n_mels``, ``representation_size`` (D, one slice
    or timestamp), ``embedding_size`` (2·D, a scene/track), ``batch_slices`` (slices per network
    pass: bounds memory), ``default_hop_frames`` (timestamp hop).
    """

    def __init__(self, *, frontend: MelSpectrogram, representation: nn.Module, band_mean: torch.Tensor,
                 band_std: torch.Tensor, slice_frames: int, representation_size: int,
                 batch_slices: int = 128) -> None:
        super().__init__()
        self.frontend = frontend
        self.representation = representation
        self.register_buffer("band_mean", torch.as_tensor(band_mean, dtype=torch.float32).detach().clone())
        self.register_buffer("band_std", torch.as_tensor(band_std, dtype=torch.float32).detach().clone())
        self.sample_rate: int = int(frontend.settings.sample_rate)
        self.hop_length: int = int(frontend.hop_length)
        self.n_mels: int = int(frontend.n_mels)
        self.slice_frames: int = int(slice_frames)
        self.representation_size: int = int(representation_size)
        self.embedding_size: int = 2 * int(representation_size)
        self.batch_slices: int = max(1, int(batch_slices))
        self.default_hop_frames: int = DEFAULT_HOP_FRAMES

    @classmethod
    def from_module(cls, module: nn.Module, *, batch_slices: int = 128) -> "AudioEmbedder":
        """The embedder of a :class:`~mtl_music.training.MultiSourceModule` (put in eval mode;
        it stays shared, not copied)."""
        from mtl_music.audio.mel import mel_settings_from_cfg

        hp = module.hparams
        module.eval()
        return cls(frontend=MelSpectrogram(mel_settings_from_cfg(hp["frontend"])).to(module.band_mean.device),
                   representation=ModuleRepresentation(module), band_mean=module.band_mean,
                   band_std=module.band_std, slice_frames=int(hp.get("crop_frames", 216)),
                   representation_size=int(module.network.representation_dim), batch_slices=batch_slices)

    def with_representation(self, representation: nn.Module) -> "AudioEmbedder":
        """The same embedder around another network (e.g. its traced graph); shares the rest."""
        return AudioEmbedder(frontend=self.frontend, representation=representation, band_mean=self.band_mean,
                             band_std=self.band_std, slice_frames=self.slice_frames,
                             representation_size=self.representation_size, batch_slices=self.batch_slices)

    # ------------------------------------------------------------------ one track
    @torch.jit.export
    def stereo(self, audio: torch.Tensor) -> torch.Tensor:
        """``(samples,)`` or ``(channels, samples)`` -> ``(2, samples)`` float32 on the module's device."""
        if audio.dim() == 1:
            audio = audio.unsqueeze(0)
        if audio.dim() != 2:
            raise ValueError("expected one track shaped (samples,) or (channels, samples), got shape "
                             + str(list(audio.shape)))
        return stereo_tensor(audio.to(device=self.band_mean.device, dtype=torch.float32))

    @torch.jit.export
    def mel(self, audio: torch.Tensor) -> torch.Tensor:
        """One track -> its dB-mel ``(2, frames, n_mels)`` (floor at the track's max − top_db)."""
        return self.frontend(self.stereo(audio))

    @torch.jit.export
    def standardized_slices(self, audio: torch.Tensor) -> torch.Tensor:
        """One track -> ``(n_slices, 2, slice_frames, n_mels)``: the network's input, standardised
        with the training statistics (what the source heads can be run on, e.g. explanations)."""
        return self.standardize(track_slices(self.mel(audio), slice_frames=self.slice_frames))

    @torch.jit.export
    def slice_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        """One track -> ``(n_slices, representation_size)``: the representation of every 2.5 s slice."""
        return self.represent(track_slices(self.mel(audio), slice_frames=self.slice_frames))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """One track -> ``(embedding_size,)`` float32: mean then population std over its slices."""
        return summarize_slices(self.slice_embeddings(audio))

    # ------------------------------------------------------------------ batches of sounds
    @torch.jit.export
    def scene_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        """``(n_sounds, samples)`` mono or ``(n_sounds, channels, samples)`` -> ``(n_sounds,
        embedding_size)``; each row equals :meth:`forward` of that sound. Slices of several sounds
        share network passes of at most ``batch_slices`` (or one sound's slices, if more)."""
        audio = self._sounds(audio)
        n_sounds = audio.shape[0]
        if n_sounds == 0:
            return torch.zeros((0, self.embedding_size), device=self.band_mean.device)
        n_frames = centred_frames(audio.shape[-1], hop_length=self.hop_length)
        per_sound = max(1, (n_frames + self.slice_frames - 1) // self.slice_frames)
        group = max(1, self.batch_slices // per_sound)
        rows: List[torch.Tensor] = []
        for first in range(0, n_sounds, group):
            slices = [track_slices(self.mel(audio[i]), slice_frames=self.slice_frames)
                      for i in range(first, min(first + group, n_sounds))]
            reps = self.represent(torch.cat(slices)).reshape(len(slices), per_sound, self.representation_size)
            for j in range(len(slices)):
                rows.append(summarize_slices(reps[j]))
        return torch.stack(rows)

    @torch.jit.export
    def timestamp_embeddings(self, audio: torch.Tensor, hop_frames: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(n_sounds, samples)`` mono or ``(n_sounds, channels, samples)`` -> embeddings
        ``(n_sounds, n_timestamps, representation_size)`` and timestamps ``(n_sounds,
        n_timestamps)`` in milliseconds (see the module docstring for the windows)."""
        if hop_frames < 1:
            raise ValueError("hop_frames must be >= 1, got " + str(hop_frames))
        audio = self._sounds(audio)
        n_sounds = audio.shape[0]
        times = self.timestamps_ms(audio.shape[-1], hop_frames)
        count = times.shape[0]
        half = self.slice_frames // 2
        rows: List[torch.Tensor] = []
        for i in range(n_sounds):
            windows = frame_windows(self.mel(audio[i]), start=-half, step=hop_frames, count=count,
                                    size=self.slice_frames)
            rows.append(self.represent(windows))
        if n_sounds == 0:
            embeddings = torch.zeros((0, count, self.representation_size), device=self.band_mean.device)
        else:
            embeddings = torch.stack(rows)
        return embeddings, times.to(self.band_mean.device).unsqueeze(0).expand(n_sounds, count).contiguous()

    @torch.jit.export
    def timestamps_ms(self, n_samples: int, hop_frames: int) -> torch.Tensor:
        """``(n_timestamps,)`` float32 milliseconds: frames ``0, hop_frames, …`` up to the last
        frame, so every timestamp lies within ``[0, n_samples / sample_rate]``."""
        n_frames = centred_frames(n_samples, hop_length=self.hop_length)
        count = 1 + (n_frames - 1) // hop_frames
        frames = torch.arange(count, dtype=torch.float64) * float(hop_frames)
        return (frames * (1000.0 * self.hop_length / self.sample_rate)).to(torch.float32)

    # ------------------------------------------------------------------ shared steps
    @torch.jit.export
    def standardize(self, mel_db: torch.Tensor) -> torch.Tensor:
        """``(…, n_mels)`` dB-mel -> standardised with the training split's band statistics."""
        return (mel_db - self.band_mean) / self.band_std

    @torch.jit.export
    def represent(self, windows: torch.Tensor) -> torch.Tensor:
        """``(K, 2, slice_frames, n_mels)`` dB windows (not yet standardised) -> ``(K,
        representation_size)`` float32, standardised and run ``batch_slices`` at a time.
        Inference only: no autograd graph (so ``.numpy()`` works on every output)."""
        parts: List[torch.Tensor] = []
        with torch.no_grad():
            for first in range(0, windows.shape[0], self.batch_slices):
                chunk = self.standardize(windows[first:first + self.batch_slices])
                parts.append(self.representation(chunk).float())
        return torch.cat(parts)

    def _sounds(self, audio: torch.Tensor) -> torch.Tensor:
        """A batch as ``(n_sounds, channels, samples)``."""
        if audio.dim() == 2:
            return audio.unsqueeze(1)
        if audio.dim() != 3:
            raise ValueError("expected a batch shaped (n_sounds, samples) or (n_sounds, channels, samples), got shape "
                             + str(list(audio.shape)))
        return audio


def script_embedder(embedder: AudioEmbedder) -> torch.jit.ScriptModule:
    """A self-contained TorchScript module of ``embedder`` (on the embedder's device).

    The network is traced on a batch of 2 slices in eval mode (BatchNorm uses its running
    statistics, dropout is off) and checked against the eager network on batches of 1 and 3, so a
    graph that baked in the batch size fails here rather than silently in use; the rest is
    scripted around it.
    """
    embedder = embedder.eval()
    device = embedder.band_mean.device
    shape = (2, embedder.slice_frames, embedder.n_mels)
    generator = torch.Generator().manual_seed(0)
    example, *checks = (torch.randn((b, *shape), generator=generator).to(device) for b in (2, 1, 3))
    with torch.no_grad(), warnings.catch_warnings():
        # The network's input check compares the channel count, which tracing bakes in; that is meant.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(embedder.representation, example, check_inputs=[(c,) for c in checks],
                                 check_tolerance=1e-5)
    return torch.jit.script(embedder.with_representation(traced))
