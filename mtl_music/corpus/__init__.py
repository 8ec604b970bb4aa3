"""The embedded demo data: real public-domain scores from the music21 corpus, rendered to audio.

``mtl_music.corpus.demo.build(cfg)`` writes the training collection (audio + manifest), the raw
label files of every learning source in the MSD-era formats, and two target datasets in the
GTZAN and Extended Ballroom layouts. Modules, one concern each:

* :mod:`~mtl_music.corpus.abc` — ABC collections split tune by tune, header fields;
* :mod:`~mtl_music.corpus.essen` — Essen regions, function words, melody dates;
* :mod:`~mtl_music.corpus.catalog` — the works of each collection (no parsing);
* :mod:`~mtl_music.corpus.scores` — one work parsed with music21, flat notes and facts;
* :mod:`~mtl_music.corpus.performance` — instruments, pans, tempo, window per track;
* :mod:`~mtl_music.corpus.render` — tinysoundfont synthesis to stereo PCM;
* :mod:`~mtl_music.corpus.jobs` — worker processes, resumable rendering, replacements;
* :mod:`~mtl_music.corpus.store` — atomic writes, records, markers;
* :mod:`~mtl_music.corpus.plan` — the mix, track ids, the train/valid split;
* :mod:`~mtl_music.corpus.crowd` — simulated tags and listeners;
* :mod:`~mtl_music.corpus.labels` — the label files;
* :mod:`~mtl_music.corpus.demo_targets` — ``demo_region`` and ``demo_dance``;
* :mod:`~mtl_music.corpus.text` — title normalisation, lyric tokens.
"""

from mtl_music.corpus.demo import BuildReport, build

__all__ = ["BuildReport", "build"]
