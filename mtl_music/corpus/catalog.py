"""The works available to the demo corpus, read from the music21 corpus folder without parsing.

Each collection is enumerated into :class:`Work` records holding what the headers and file
names say (title, composer or collector, date, tune type, genre leaf, Essen function and
region). The music itself is parsed later, one work at a time, by
:func:`mtl_music.corpus.scores.parse_work`.

Training collections (the "demo MSD"): ``essen_german``, ``oneills``, ``bach``, ``palestrina``,
``monteverdi``, ``trecento``. Target material: ``essen_regional`` (non-German Essen tunes) and
``ryans`` (Ryan's Mammoth Collection). ``airdsAirs`` is reserved and never read.

Dates are the best-documented date of the material and are proxies where said (see
``docs/data_card.md``): O'Neill -> 1903 (publication of *O'Neill's Music of Ireland*), Essen ->
the dated melody source in the notes or the printed collection's year, Bach -> known dates of
the large works, else a spread over the Leipzig years (cantatas) or C. P. E. Bach's edition
(1784-1787, the four-part chorales without a known source), Palestrina -> year in the mass
title or the first edition of its mass book, Monteverdi -> the madrigal book's publication,
trecento -> a spread over the period of the PMFC volume.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from mtl_music.corpus import essen
from mtl_music.corpus.abc import AbcTune, read_tunes
from mtl_music.errors import DataError

TRAINING_COLLECTIONS: tuple[str, ...] = ("essen_german", "oneills", "bach", "palestrina", "monteverdi", "trecento")
TARGET_COLLECTIONS: tuple[str, ...] = ("essen_regional", "ryans")
#: Reserved corpus folder: nothing in mtl_music may read it.
RESERVED_FOLDER = "airdsAirs"


@dataclass(frozen=True)
class Work:
    """One piece of music: an ABC tune, a chorale, a mass movement, a madrigal…

    ``key`` is stable and unique across collections (``"essenFolksong/erk10.abc#12"``),
    ``path`` the corpus-relative file, ``abc`` the tune's own ABC text for ABC collections
    (empty otherwise), ``genres`` the CDR-like hierarchical labels (most specific first),
    ``functions`` English function tags (Essen), ``tempo_word`` a printed performance
    direction (O'Neill), ``lyrics`` text known from the headers (Essen titles are the song's
    first line), ``subset`` the sub-collection (Essen source, mass book, PMFC volume).
    """

    key: str
    collection: str
    path: str
    title: str
    artist: str
    year: int
    genres: tuple[str, ...]
    abc: str = ""
    tune_type: str = ""
    functions: tuple[str, ...] = ()
    tempo_word: str = ""
    region: str = ""
    source_id: str = ""
    lyrics: str = ""
    subset: str = ""


def corpus_root() -> Path:
    """The music21 corpus folder of the installed music21 (``site-packages/music21/corpus``)."""
    try:
        import music21
    except ImportError as exc:  # pragma: no cover - music21 is a hard dependency
        raise DataError("music21 is not installed; the demo corpus is built from its scores: pip install music21") from exc
    root = Path(music21.__file__).resolve().parent / "corpus"
    if not (root / "essenFolksong").is_dir():
        raise DataError(
            f"music21's corpus folder {root} has no essenFolksong/ (a music21 install without its corpus); "
            "reinstall music21 from PyPI: pip install --force-reinstall music21"
        )
    return root


def _spread(key: str, low: int, high: int) -> int:
    """A year in [low, high] fixed by ``key`` (a documented proxy where no date is known)."""
    digest = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return low + digest % (high - low + 1)


# ---------------------------------------------------------------- Essen (German and regional)

_ESSEN_GENRES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ballad", ("ballad", "romance", "murder ballad", "legend", "narrative song")),
    ("love_song", ("love song",)),
    ("childrens_song", ("children's song", "lullaby", "game song")),
    ("dance_song", ("dance song", "round dance")),
    ("religious_song", ("religious", "marian song", "christmas")),
    ("soldier_song", ("soldier song", "war song")),
    ("drinking_song", ("drinking song",)),
    ("occupational_song", ("trade song", "craftsman song", "student song", "hunting song", "peasant song", "shepherd song")),
    ("lament", ("lament", "death", "farewell song")),
    ("humorous_song", ("humorous",)),
    ("patriotic_song", ("patriotic", "political", "historical song", "homeland song")),
    ("seasonal_song", ("spring song", "seasonal song", "evening song", "night song", "custom song", "wedding song")),
)


def _essen_genres(functions: tuple[str, ...], *, country: str) -> tuple[str, ...]:
    leaves: list[str] = []
    for function in functions:
        for leaf, members in _ESSEN_GENRES:
            if function in members and leaf not in leaves:
                leaves.append(leaf)
    if not leaves:
        leaves = ["song"]
    return tuple(f"folk/{country}/{leaf}" for leaf in leaves[:2])


def _essen_work(tune: AbcTune, *, collection: str, file: str, artist: str, year: int, region: str) -> Work:
    functions = tuple(essen.function_tags(tune))
    return Work(
        key=f"essenFolksong/{file}#{tune.index + 1}",
        collection=collection,
        path=f"essenFolksong/{file}",
        title=tune.title,
        artist=artist,
        year=year,
        genres=_essen_genres(functions, country="german" if region == essen.GERMANY else region),
        abc=tune.text,
        tune_type="song",
        functions=functions,
        region=region,
        source_id=essen.tune_id(tune),
        lyrics=tune.title,  # Essen titles are the first line of the song text
        subset=re.sub(r"\d*\.abc$", "", file),
    )


def essen_german_works(root: Path) -> list[Work]:
    """German Essen tunes (Germany alone in the ``O:`` line) of the German source collections."""
    works = []
    for file, source in essen.GERMAN_FILES.items():
        for tune in read_tunes(root / "essenFolksong" / file, file=f"essenFolksong/{file}"):
            if essen.region_of(tune) != essen.GERMANY:
                continue
            year = essen.melody_year(tune, publication_year=source.year) or source.year
            work = _essen_work(tune, collection="essen_german", file=file, artist=source.artist, year=year, region=essen.GERMANY)
            works.append(replace(work, subset=source.code))
    return works


def essen_regional_works(root: Path) -> list[Work]:
    """Essen tunes of one non-German region, from every non-excluded Essen file."""
    works = []
    files = sorted(p.name for p in (root / "essenFolksong").glob("*.abc"))
    for file in files:
        if file in essen.EXCLUDED_FILES:
            continue
        for tune in read_tunes(root / "essenFolksong" / file, file=f"essenFolksong/{file}"):
            region = essen.region_of(tune)
            if region in (essen.GERMANY, essen.MIXED, "unknown", "other"):
                continue
            year = essen.melody_year(tune, publication_year=2000) or 0
            works.append(
                _essen_work(tune, collection="essen_regional", file=file, artist=f"Essen: {file[:-4]}", year=year, region=region)
            )
    return works


# ---------------------------------------------------------------- O'Neill's Music of Ireland

ONEILLS_YEAR = 1903  # "O'Neill's Music of Ireland" (1850 melodies), Chicago 1903
_QUOTED = re.compile(r'"([^"]*)"?')
_COLLECTOR = re.compile(r"collected (?:by|from)\s+(.+)", re.IGNORECASE)
_TEMPO_WORDS = ("very slow", "slow", "moderate", "tenderly", "with feeling", "with expression", "plaintive",
                "mournful", "gracefully", "cheerful", "gaily", "playful", "lively", "with spirit", "spirited",
                "animated", "with animation", "distinctly", "boldly", "quick", "fast")
# Collectors with enough tunes to be an "artist" of their own; the rest are the editor's.
_ONEILL_COLLECTORS = {
    "f. oneill": "Francis O'Neill", "f.oneill": "Francis O'Neill", "j. oneill": "James O'Neill",
    "j.oneill": "James O'Neill", "cronin": "Edward Cronin", "mcfadden": "John McFadden",
    "hartnett": "Hartnett", "oreilly": "O'Reilly", "ennis": "John Ennis", "fielding": "Fielding", "early": "James Early",
}
ONEILLS_EDITOR = "O'Neill's Music of Ireland (coll.)"


def _normalise_type(raw: str) -> str:
    raw = raw.lower().strip()
    if "slip" in raw:
        return "slip jig"
    for name in ("double jig", "jig", "reel", "hornpipe", "strathspey", "highland fling", "fling", "clog", "air",
                 "waltz", "polka", "march", "slide", "set dance", "walkaround", "schottische"):
        if name in raw:
            return "jig" if name == "double jig" else ("highland fling" if name == "fling" else name)
    return ""


def oneills_tune_type(*, number: int, rhythm: str, meter: str, tempo_word: str) -> str:
    """Tune type of an O'Neill tune: its ``R:`` field, else the book section and meter.

    The book is ordered by type; where ``R:`` is missing the type follows from the tune
    number (1-625 airs and songs; 1176-1555 reels; 1556-1780 hornpipes, with long/set dances
    at 1625-1700; 1781-1850 marches) and, in the jig sections, the meter.
    """
    typed = _normalise_type(rhythm)
    if typed:
        return typed
    meter = meter.replace(" ", "")
    if number <= 625 or tempo_word:
        return "air"
    if meter == "9/8":
        return "slip jig"
    if meter == "12/8":
        return "slide"
    if meter == "6/8" and number < 1781:
        return "jig"
    if 1176 <= number <= 1555:
        return "reel"
    if 1625 <= number <= 1700:
        return "set dance"
    if 1556 <= number <= 1780:
        return "hornpipe"
    if number >= 1781:
        return "march"
    return "air" if meter in ("3/4", "3/8") else "jig"


def _oneill_notes(tune: AbcTune) -> tuple[str, str]:
    """(tempo word, collector) from an O'Neill tune's quoted ``N:`` remarks."""
    tempo, collector = "", ""
    for note in tune.all("N"):
        for quoted in _QUOTED.findall(note) or [note]:
            text = quoted.strip().rstrip(".").strip()
            match = _COLLECTOR.search(text)
            if match:
                collector = collector or match.group(1).strip().rstrip(".")
            elif not tempo and any(text.lower().startswith(w) for w in _TEMPO_WORDS):
                tempo = text
    return tempo, collector


def oneills_works(root: Path) -> list[Work]:
    """O'Neill's 1850 melodies, one per tune number (overlapping transcription files deduplicated)."""
    folder = root / "oneills1850"
    seen: dict[int, Work] = {}
    for path in sorted(folder.glob("*.abc")):
        for tune in read_tunes(path, file=f"oneills1850/{path.name}"):
            if not tune.number.isdigit() or int(tune.number) in seen or int(tune.number) == 0:
                continue
            number = int(tune.number)
            tempo, collector = _oneill_notes(tune)
            tune_type = oneills_tune_type(number=number, rhythm=tune.first("R"), meter=tune.first("M"), tempo_word=tempo)
            folded = collector.lower().replace("'", "").replace("’", "")
            artist = _ONEILL_COLLECTORS.get(folded, ONEILLS_EDITOR)
            title = tune.title.rstrip(".").strip()
            if title.endswith(", The"):
                title = "The " + title[: -len(", The")]
            seen[number] = Work(
                key=f"oneills1850#{number}",
                collection="oneills",
                path=f"oneills1850/{path.name}",
                title=title,
                artist=artist,
                year=ONEILLS_YEAR,
                genres=(f"folk/irish/{tune_type.replace(' ', '_')}",),
                abc=tune.text,
                tune_type=tune_type,
                tempo_word=tempo,
                source_id=str(number),
                subset="airs" if tune_type == "air" else "dance tunes",
            )
    return [seen[n] for n in sorted(seen)]


# ---------------------------------------------------------------- Ryan's Mammoth Collection

RYANS_YEAR = 1883  # Ryan's Mammoth Collection, Boston 1883


def ryans_works(root: Path) -> list[Work]:
    """Ryan's Mammoth Collection (one tune per file), typed from ``R:`` (else the file name)."""
    works = []
    for path in sorted((root / "ryansMammoth").glob("*.abc")):
        tunes = read_tunes(path, file=f"ryansMammoth/{path.name}")
        if not tunes:
            continue
        tune = tunes[0]
        tune_type = _normalise_type(tune.first("R")) or _normalise_type(re.sub(r"([a-z])([A-Z])", r"\1 \2", path.stem))
        if not tune_type:
            continue
        title = re.sub(r"\s*--\s*", " ", tune.title).strip()
        works.append(
            Work(
                key=f"ryansMammoth/{path.name}",
                collection="ryans",
                path=f"ryansMammoth/{path.name}",
                title=title,
                artist="William Bradbury Ryan (coll.)",
                year=RYANS_YEAR,
                genres=(f"folk/american/{tune_type.replace(' ', '_')}",),
                abc=tune.text,
                tune_type=tune_type,
                source_id=path.stem,
            )
        )
    return works


# ---------------------------------------------------------------- Bach chorales

_BACH_KNOWN = {"244": 1727, "245": 1724, "248": 1734, "4": 1707, "106": 1707, "131": 1707, "71": 1708}


def _bach_year(bwv: str, key: str) -> int:
    work_number = bwv.split(".")[0].split("-")[0]
    if work_number in _BACH_KNOWN:
        return _BACH_KNOWN[work_number]
    if work_number.isdigit() and int(work_number) >= 250:
        return _spread(key, 1784, 1787)  # C. P. E. Bach's edition of the four-part chorales
    return _spread(key, 1723, 1735)  # Leipzig church cantatas


def bach_works(root: Path) -> list[Work]:
    """Bach's four-part chorales (music21 ``bach/``), titles from music21's BWV chorale list."""
    from music21.corpus import chorales

    titles = {bwv: entry["title"] for bwv, entry in chorales.ChoraleListRKBWV().byBWV.items()}
    folder = root / "bach"
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".mxl", ".xml") or (path.suffix == ".krn" and path.stem not in by_stem):
            by_stem.setdefault(path.stem, path)
    works = []
    for stem, path in sorted(by_stem.items()):
        bwv = stem[3:] if stem.startswith("bwv") else stem
        title = titles.get(bwv) or titles.get(bwv.split("-")[0]) or f"Chorale BWV {bwv}"
        key = f"bach/{path.name}"
        works.append(
            Work(
                key=key,
                collection="bach",
                path=key,
                title=title,
                artist="J. S. Bach",
                year=_bach_year(bwv, key),
                genres=("classical/baroque/chorale",),
                tune_type="chorale",
                source_id=f"BWV {bwv}",
            )
        )
    return works


# ---------------------------------------------------------------- Palestrina masses

_PALESTRINA_BOOKS = {"1": 1554, "I": 1554, "2": 1567, "3": 1570, "4": 1582, "5": 1590, "6": 1594, "7": 1594, "8": 1599,
                     "9": 1599, "10": 1600, "11": 1600, "12": 1601, "Mantuan I": 1579, "Mantuan II": 1579}
_MASS_MOVEMENTS = ("kyrie", "christe", "gloria", "credo", "sanctus", "hosanna", "benedictus", "agnus")


def _humdrum_header(path: Path) -> dict[str, str]:
    header: dict[str, str] = {}
    with path.open(encoding="latin-1") as handle:
        for line in handle:
            if not line.startswith("!!"):
                if not line.startswith("!"):
                    break
                continue
            match = re.match(r"!!!([A-Z]+\w*):\s*(.*)", line.rstrip())
            if match:
                header.setdefault(match.group(1), match.group(2))
    return header


def palestrina_works(root: Path) -> list[Work]:
    """Palestrina's mass movements (music21 ``palestrina/``, Humdrum), one work per file."""
    works = []
    for path in sorted((root / "palestrina").glob("*.krn")):
        header = _humdrum_header(path)
        mass = header.get("OPR", "Missa")
        section = header.get("OTL", path.stem)
        book = header.get("PWK", "").replace("Masses, Book", "").strip()
        dated = re.search(r"\((1[5-6]\d\d)\)", mass)
        key = f"palestrina/{path.name}"
        year = int(dated.group(1)) if dated else _PALESTRINA_BOOKS.get(book) or _spread(key, 1560, 1594)
        stem_word = path.stem.split("_")[0].lower()
        movement = next((m for m in _MASS_MOVEMENTS if m in stem_word), "mass")
        works.append(
            Work(
                key=key,
                collection="palestrina",
                path=key,
                title=f"{mass}: {section}",
                artist="G. P. da Palestrina",
                year=year,
                genres=("classical/renaissance/mass", f"classical/renaissance/mass/{movement}"),
                tune_type="mass",
                source_id=mass,
                subset=f"Book {book}" if book else "",
            )
        )
    return works


# ---------------------------------------------------------------- Monteverdi madrigals

_MONTEVERDI_BOOKS = {"3": (1592, "Il terzo libro de madrigali"), "4": (1603, "Il quarto libro de madrigali"),
                     "5": (1605, "Il quinto libro de madrigali")}


def monteverdi_works(root: Path) -> list[Work]:
    """Monteverdi's madrigals of books 3-5 (``monteverdi/madrigal.B.N.mxl``; ``_old`` copies skipped)."""
    works = []
    for path in sorted((root / "monteverdi").glob("madrigal.*.mxl")):
        match = re.fullmatch(r"madrigal\.(\d)\.(\d+)", path.stem)
        if match is None or match.group(1) not in _MONTEVERDI_BOOKS:
            continue
        year, book = _MONTEVERDI_BOOKS[match.group(1)]
        key = f"monteverdi/{path.name}"
        works.append(
            Work(
                key=key,
                collection="monteverdi",
                path=key,
                title=f"{book}, no. {match.group(2)}",
                artist="Claudio Monteverdi",
                year=year,
                genres=("classical/renaissance/madrigal",),
                tune_type="madrigal",
                source_id=f"{match.group(1)}.{match.group(2)}",
                subset=book,
            )
        )
    return works


# ---------------------------------------------------------------- trecento (PMFC)

_PMFC_PERIOD = {"01": (1310, 1360), "04": (1360, 1397), "06": (1340, 1370), "12": (1350, 1410), "13": (1370, 1420),
                "23": (1350, 1400), "24": (1390, 1412)}
_TRECENTO_COMPOSERS = (("Jacopo", "Jacopo da Bologna"), ("Giovanni", "Giovanni da Firenze"), ("Piero", "Magister Piero"),
                       ("Ciconia", "Johannes Ciconia"), ("Gherardello", "Gherardello da Firenze"),
                       ("Gratiosus", "Gratiosus de Padua"), ("Fava", "Anonymous (Venice, Fava)"))
_LITURGY = re.compile(r"kyrie|gloria|credo|sanctus|agnus|benedicamus", re.IGNORECASE)


def trecento_works(root: Path) -> list[Work]:
    """Trecento pieces of the PMFC editions (``trecento/``; backup and duplicate copies skipped)."""
    folder = root / "trecento"
    files = {p.stem: p for p in sorted(folder.glob("*.mxl"))}
    files.update({p.stem: p for p in sorted(folder.glob("*.xml"))})  # .xml wins over a .mxl twin
    works = []
    for stem, path in sorted(files.items()):
        if stem.endswith("_bak"):
            continue
        volume_match = re.match(r"PMFC_(\d\d)", stem)
        volume = volume_match.group(1) if volume_match else ""
        low, high = _PMFC_PERIOD.get(volume, (1400, 1420))
        key = f"trecento/{path.name}"
        artist = next((name for word, name in _TRECENTO_COMPOSERS if word in stem), "")
        if not artist:
            artist = "Francesco Landini" if volume == "04" else (f"Anonymous (PMFC {int(volume)})" if volume else "Anonymous")
        if volume == "24":
            artist = "Johannes Ciconia"
        if _LITURGY.search(stem):
            form = "mass_movement"
        elif volume == "04":
            form = "ballata"
        elif volume == "06":
            form = "madrigal"
        else:
            form = "motet"
        title = re.sub(r"^PMFC_[\d_]+[a-z]?[-_ ]*(?:[A-Za-z]+-)?[\d]*[a-z]?[-_ ]*", "", stem).replace("_", " ").strip() or stem
        works.append(
            Work(
                key=key,
                collection="trecento",
                path=key,
                title=title,
                artist=artist,
                year=_spread(key, low, high),
                genres=(f"classical/medieval/{form}",),
                tune_type=form.replace("_", " "),
                source_id=f"PMFC {int(volume)}" if volume else stem,
                subset=f"PMFC {int(volume)}" if volume else "Fava",
            )
        )
    return works


# ---------------------------------------------------------------- all collections

_ENUMERATORS = {
    "essen_german": essen_german_works,
    "oneills": oneills_works,
    "bach": bach_works,
    "palestrina": palestrina_works,
    "monteverdi": monteverdi_works,
    "trecento": trecento_works,
    "essen_regional": essen_regional_works,
    "ryans": ryans_works,
}


@lru_cache(maxsize=None)
def _cached_works(collection: str, root: str) -> tuple[Work, ...]:
    return tuple(_ENUMERATORS[collection](Path(root)))


def works(collection: str) -> list[Work]:
    """Every candidate work of ``collection`` in a stable order (sorted by key)."""
    if collection not in _ENUMERATORS:
        raise DataError(f"unknown demo-corpus collection {collection!r}; known: {', '.join(_ENUMERATORS)}")
    root = corpus_root()
    found = sorted(_cached_works(collection, os.fspath(root)), key=lambda w: w.key)
    if any(RESERVED_FOLDER in w.path for w in found):  # defensive: the reserved folder is never read
        raise DataError(f"collection {collection} reached the reserved folder {RESERVED_FOLDER}")
    return found
