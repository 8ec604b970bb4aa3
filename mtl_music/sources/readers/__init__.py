"""Readers of the raw label files of the learning sources, in the public formats of the
MSD-era originals (paper Table 1, SPEC R3.3), one module per format family.

Every reader streams its file line by line (or row by row for SQLite), counts what it
cannot use in a :class:`~mtl_music.sources.base.SourceReport` (with line numbers) instead
of dropping it silently, and returns either a sparse :class:`LabelMatrix` or
:class:`ScalarLabels`. Duplicated (track, label) entries are summed, duplicated scalars
averaged; both are reported.

* :mod:`.lastfm`: ``lastfm_tags.db`` (SQLite), and the artist × tag bag built from it;
* :mod:`.msd`: the ``<SEP>`` text files ``unique_tracks.txt`` and ``tracks_per_year.txt``;
* :mod:`.taste`: the taste profile ``train_triplets.txt``;
* :mod:`.lyrics`: musiXmatch bag-of-words ``mxm_dataset_{train,test}.txt``;
* :mod:`.delimited`: any CSV/TSV of ``track_id, label[, weight]`` or ``track_id, value``, and
  ``tempo.tsv``;
* :mod:`.common`: what they share (text opening, number parsing, assembling the results).
"""

from mtl_music.sources.readers.common import MAX_BAD_EXAMPLES
from mtl_music.sources.readers.delimited import HEADER_FIRST_FIELDS, read_label_table, read_scalar_table, read_tempo
from mtl_music.sources.readers.lastfm import read_artist_tags, read_lastfm_tags
from mtl_music.sources.readers.lyrics import read_mxm_lyrics
from mtl_music.sources.readers.msd import MSD_SEP, read_tracks_per_year, read_unique_tracks
from mtl_music.sources.readers.taste import read_taste_triplets

__all__ = [
    "HEADER_FIRST_FIELDS",
    "MAX_BAD_EXAMPLES",
    "MSD_SEP",
    "read_artist_tags",
    "read_label_table",
    "read_lastfm_tags",
    "read_mxm_lyrics",
    "read_scalar_table",
    "read_taste_triplets",
    "read_tempo",
    "read_tracks_per_year",
    "read_unique_tracks",
]
