"""ABC splitting, Essen header facts, title normalisation and lyric tokens (no music21 parsing)."""

from __future__ import annotations

import pytest

from mtl_music.corpus import essen
from mtl_music.corpus.abc import read_tunes, split_tunes
from mtl_music.corpus.catalog import oneills_tune_type
from mtl_music.corpus.text import normalise_title, tokenise_lyrics

ABC = """%abc-2.1 file header, not a tune
X:1
T: ES FREIT EIN WILDER WASSERMANN
N: E0001
O: Europa, Mitteleuropa, Deutschland, Schlesien
R: Sage, Maerchen -, Zauber - Lied
M: 2/4
L: 1/16
K: F
c2 | d2B2G2B2 | c2A2F2

X:2
T: only a header, no key

X:3
T: Halewyn
N: A0015B
O: Europa, Mitteleuropa, Brabant
N: Melodie  1836 mitgeteilt
R: Romanze, Ballade, Lied
M: 6/8
L: 1/8
K: Gm
_B,A,B, | C3D3 | C2_B,A,2
"""


def test_split_tunes_keeps_tunes_with_key_and_music():
    tunes = split_tunes(ABC, file="essenFolksong/x.abc")
    assert [t.number for t in tunes] == ["1", "3"]
    first, second = tunes
    assert first.title == "ES FREIT EIN WILDER WASSERMANN"
    assert first.first("M") == "2/4" and first.first("K") == "F"
    assert second.all("N") == ["A0015B", "Melodie  1836 mitgeteilt"]
    assert second.text.startswith("X:3") and "C3D3" in second.text


def test_read_tunes_missing_file_names_it(tmp_path):
    from mtl_music.errors import DataError

    with pytest.raises(DataError, match="missing.abc"):
        read_tunes(tmp_path / "missing.abc", file="missing.abc")


def test_read_tunes_latin1_file(tmp_path):
    path = tmp_path / "latin.abc"
    path.write_bytes(ABC.replace("Maerchen", "M\u00e4rchen").encode("latin-1"))
    assert [t.number for t in read_tunes(path, file="latin.abc")] == ["1", "3"]


def test_essen_region_function_year_signature():
    german, brabant = split_tunes(ABC, file="x.abc")
    assert essen.region_of(german) == essen.GERMANY
    assert essen.region_of(brabant) == "low_countries"
    mixed = split_tunes(ABC.replace("Schlesien", "Deutschland; Frankreich"), file="x.abc")[0]
    assert essen.region_of(mixed) == essen.MIXED
    assert essen.function_tags(german) == ["legend"]
    assert essen.function_tags(brabant) == ["romance", "ballad"]
    assert essen.melody_year(brabant, publication_year=1877) == 1836
    assert essen.melody_year(german, publication_year=1893) is None
    assert essen.tune_id(brabant) == "A0015B"


def test_normalise_title_folds_variants():
    assert normalise_title("ACROBAT'S -- HORNPIPE") == "acrobats"
    assert normalise_title("The Acrobat's Hornpipe") == "acrobats"
    assert normalise_title("Crabs in the Skillet (jig)") == "crabs in skillet"
    assert normalise_title("SO LEB DENN WOHL") == normalise_title("So leb denn wohl!")
    assert normalise_title("Müller") == normalise_title("MUELLER")
    assert normalise_title("The Reel") == ""


def test_tokenise_lyrics_joins_syllables():
    assert tokenise_lyrics("La gio\u00advi\u00adnet-ta pian-ta, Kyrie eleison 3") == ["giovinetta", "pianta", "kyrie", "eleison"]
    assert tokenise_lyrics("Meine Seel’ erhebt den Herren") == ["meine", "seel", "erhebt", "den", "herren"]
    assert tokenise_lyrics("in te do", min_length=2) == ["in", "te", "do"]


def test_abc_key_modes():
    from mtl_music.corpus.scores import _ABC_MODE, _MODE_NAMES

    modes = {k: _MODE_NAMES.get((_ABC_MODE.match(k).group(1) or "").lower()) for k in ("Gm", "Gmix", "Ador", " G", "Bbm")}
    assert modes == {"Gm": "minor", "Gmix": "mixolydian", "Ador": "dorian", " G": "major", "Bbm": "minor"}


def test_oneills_tune_type_by_field_section_and_meter():
    assert oneills_tune_type(number=1200, rhythm="double jig", meter="6/8", tempo_word="") == "jig"
    assert oneills_tune_type(number=1130, rhythm="slipjig", meter="9/8", tempo_word="") == "slip jig"
    assert oneills_tune_type(number=12, rhythm="", meter="3/4", tempo_word="Slow") == "air"
    assert oneills_tune_type(number=1400, rhythm="", meter="C|", tempo_word="") == "reel"
    assert oneills_tune_type(number=900, rhythm="", meter="6/8", tempo_word="") == "jig"
    assert oneills_tune_type(number=1650, rhythm="", meter="4/4", tempo_word="") == "set dance"
