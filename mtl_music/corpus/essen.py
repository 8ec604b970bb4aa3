"""The Essen folk song collection (EsAC, ABC encodings by Seymour Schlien) as music21 ships it.

Three facts are read from each tune's header here:

* **region** (``O:`` origin line): tunes from Germany alone feed the training collection; tunes
  of other single regions feed the ``demo_region`` target; tunes credited to Germany *and*
  another country ("Deutschland; Frankreich", "Deutschland / Polen, Schlesien") go to neither,
  so no melody sits on both sides.
* **function** (``R:`` line, German genre words such as "Liebes - Lied", "Ballade") translated
  to English crowd-style tags by a fixed word table; untranslated words are dropped.
* **year**: a melody-source date in the notes (``N:``/``S:``: "Souterliedekens 1540", "16.Jh")
  when one is given, else the publication year of the printed source collection (a proxy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mtl_music.corpus.abc import AbcTune


@dataclass(frozen=True)
class EssenSource:
    """A printed source collection behind one or more Essen files."""

    code: str          # short code used in track metadata ("erk")
    artist: str        # the collection as an "artist" (collector/editor and title)
    year: int          # publication year of the printed collection (year proxy)


# The German files and their printed sources. The ballad files are the Deutsches
# Volksliedarchiv's "Deutsche Volkslieder mit ihren Melodien: Balladen" (volumes 1935-1988);
# each file is mapped to a volume year in file order: a proxy, not checked tune by tune.
GERMAN_FILES: dict[str, EssenSource] = {
    "altdeu10.abc": EssenSource("altdeu", "Essen: Böhme, Altdeutsches Liederbuch", 1877),
    "altdeu20.abc": EssenSource("altdeu", "Essen: Böhme, Altdeutsches Liederbuch", 1877),
    "ballad10.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1935),
    "ballad20.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1937),
    "ballad30.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1954),
    "ballad40.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1959),
    "ballad50.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1967),
    "ballad60.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1974),
    "ballad70.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1982),
    "ballad80.abc": EssenSource("ballad", "Essen: DVA, Balladen", 1988),
    "boehme10.abc": EssenSource("boehme", "Essen: Böhme, Volkstümliche Lieder der Deutschen", 1895),
    "boehme20.abc": EssenSource("boehme", "Essen: Böhme, Volkstümliche Lieder der Deutschen", 1895),
    "dva0.abc": EssenSource("dva", "Essen: Deutsches Volksliedarchiv", 1914),
    "erk5.abc": EssenSource("erk", "Essen: Erk & Böhme, Deutscher Liederhort", 1893),
    "erk10.abc": EssenSource("erk", "Essen: Erk & Böhme, Deutscher Liederhort", 1893),
    "erk20.abc": EssenSource("erk", "Essen: Erk & Böhme, Deutscher Liederhort", 1893),
    "erk30.abc": EssenSource("erk", "Essen: Erk & Böhme, Deutscher Liederhort", 1893),
    "fink0.abc": EssenSource("fink", "Essen: Fink, Musikalischer Hausschatz", 1843),
    "kinder0.abc": EssenSource("kinder", "Essen: Böhme, Deutsches Kinderlied", 1897),
    "zuccal0.abc": EssenSource("zuccal", "Essen: Kretzschmer & Zuccalmaglio, Deutsche Volkslieder", 1840),
}
# Files of other regions (they only feed the demo_region target, through their O: lines).
REGIONAL_FILES: tuple[str, ...] = ("han1.abc", "han2.abc", "lux.abc", "lot.abc", "irl.abc")
# Not used: music21's test fixtures, Haydn's folk-song arrangements, and the variants file.
EXCLUDED_FILES: tuple[str, ...] = ("test0.abc", "test1.abc", "testd.abc", "teste.abc", "folkHaydn.abc", "variant0.abc")

# Region words of O: lines -> region class of the demo_region target. Order matters: the first
# matching class wins, and a line with Germany plus any of these is "mixed".
REGION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("china", ("china", "ostasien")),
    ("luxembourg", ("luxemburg",)),
    ("lorraine", ("lothringen",)),
    ("alsace", ("elsass",)),
    ("switzerland", ("schweiz",)),
    ("austria", ("oesterreich", "tirol", "steiermark", "kaernten", "salzburg")),
    ("low_countries", ("niederlande", "flamen", "flaemisch", "brabant", "belgien")),
    ("yugoslavia", ("jugoslawien", "gottschee")),
    ("hungary", ("ungarn",)),
    ("romania", ("rumaenien", "siebenbuergen")),
    ("ireland", ("irland",)),
    ("poland", ("polen",)),
    ("bohemia", ("boehmen", "maehren")),
    ("france", ("frankreich",)),
    ("italy", ("italien",)),
    ("other", ("island", "schottland", "england", "amerika", "usa", "mexiko", "russland", "daenemark", "schweden")),
)
GERMANY = "germany"
MIXED = "mixed"

# German function words of R: lines -> English tags (stem match on the folded word).
FUNCTION_TAGS: tuple[tuple[str, str], ...] = (
    ("wiegen", "lullaby"), ("kinder", "children's song"), ("ballade", "ballad"), ("romanze", "romance"),
    ("liebes", "love song"), ("liebe", "love song"), ("erzaehl", "narrative song"), ("sage", "legend"),
    ("klage", "lament"), ("geistlich", "religious"), ("religi", "religious"), ("reigen", "round dance"),
    ("soldaten", "soldier song"), ("kriegs", "war song"), ("tanz", "dance song"), ("jaeger", "hunting song"),
    ("trink", "drinking song"), ("zech", "drinking song"), ("abschied", "farewell song"), ("moral", "moral song"),
    ("scherz", "humorous"), ("lustig", "humorous"), ("hochzeit", "wedding song"), ("heimat", "homeland song"),
    ("national", "patriotic"), ("vaterland", "patriotic"), ("wander", "wandering song"), ("studenten", "student song"),
    ("handwerk", "craftsman song"), ("staende", "trade song"), ("histor", "historical song"), ("politisch", "political"),
    ("fruehling", "spring song"), ("jahreszeit", "seasonal song"), ("brauch", "custom song"), ("spiel", "game song"),
    ("mord", "murder ballad"), ("tod", "death"), ("abend", "evening song"), ("nacht", "night song"),
    ("weihnacht", "christmas"), ("marien", "marian song"), ("bauern", "peasant song"), ("hirten", "shepherd song"),
)

_YEAR = re.compile(r"(?<!\d)(1[4-9]\d\d)(?!\d)")
_CENTURY = re.compile(r"(?<!\d)(1[4-9])\.\s*(?:jh|jahrh)", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+")


def _fold(text: str) -> str:
    text = text.lower()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    return text


def region_of(tune: AbcTune) -> str:
    """Region class of an Essen tune from its ``O:`` line.

    ``"germany"`` for Germany alone (including "Deutschland (BRD), Hessen"), ``"mixed"`` for
    Germany together with another country, otherwise the first matching class of
    :data:`REGION_WORDS`, or ``"unknown"``.
    """
    origin = _fold(" ".join(tune.all("O")))
    german = "deutschland" in origin
    for region, words in REGION_WORDS:
        if any(word in origin for word in words):
            return MIXED if german else region
    return GERMANY if german else "unknown"


def function_tags(tune: AbcTune) -> list[str]:
    """English function tags of an Essen tune's ``R:`` line, in order, without repeats."""
    tags: list[str] = []
    for part in re.split(r"[,;]", _fold(" ".join(tune.all("R")))):
        word = "".join(_WORD.findall(part))
        for stem, tag in FUNCTION_TAGS:
            if stem in word and tag not in tags:
                tags.append(tag)
                break
    return tags


def melody_year(tune: AbcTune, *, publication_year: int) -> int | None:
    """A dated melody source in the tune's notes ("Souterliedekens 1540" -> 1540, "16.Jh" -> 1550).

    Only years from 1400 up to the collection's publication are accepted (other numbers in
    the notes are page numbers or later reprints); ``None`` when the notes give no date.
    """
    notes = " ".join(tune.all("N") + tune.all("S"))
    years = [int(y) for y in _YEAR.findall(notes) if 1400 <= int(y) <= publication_year]
    if years:
        return min(years)
    centuries = [int(c) for c in _CENTURY.findall(notes)]
    if centuries:
        return min(centuries) * 100 - 50  # "16. Jh" = the 1500s -> 1550
    return None


def tune_id(tune: AbcTune) -> str:
    """The EsAC signature of a tune (first ``N:`` line, e.g. ``"E0001"``), or ``""``."""
    first = tune.first("N").strip()
    return first if re.fullmatch(r"[A-Z]{1,2}\d{3,5}[A-Z]?", first) else ""
