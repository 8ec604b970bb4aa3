"""Audio I/O and the mel front end: files → float32 stereo PCM → dB-mel spectrograms."""

from mtl_music.audio.files import audio_files, is_audio_file
from mtl_music.audio.io import (
    AUDIO_EXTENSIONS,
    RESAMPLE_QUALITY,
    SILENCE_DBFS,
    DecodedAudio,
    decode_audio,
    is_silent,
    load_audio,
    peak_dbfs,
    to_stereo,
)
from mtl_music.audio.mel import FORMAT_VERSION, MelSettings, MelSpectrogram, mel_filter_bank, mel_settings_from_cfg

__all__ = [
    "AUDIO_EXTENSIONS",
    "FORMAT_VERSION",
    "RESAMPLE_QUALITY",
    "SILENCE_DBFS",
    "DecodedAudio",
    "MelSettings",
    "MelSpectrogram",
    "audio_files",
    "decode_audio",
    "is_audio_file",
    "is_silent",
    "load_audio",
    "mel_filter_bank",
    "mel_settings_from_cfg",
    "peak_dbfs",
    "to_stereo",
]
