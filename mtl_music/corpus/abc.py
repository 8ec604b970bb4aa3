"""ABC collections split tune by tune, with their header fields, without music21.

music21 parses a whole Essen file (hundreds of tunes) in about 50 s but one tune in ~15 ms, so
collections are cut on their ``X:`` lines here and each tune's text is parsed on its own
(:func:`mtl_music.corpus.scores.parse_work`). Header fields (``T:`` title, ``R:`` rhythm/tune
type or Essen function, ``M:`` meter, ``K:`` key, ``N:`` notes, ``O:`` origin, ``Q:`` tempo) are
read here too: the catalog uses them to select works and to write labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mtl_music.errors import DataError

_FIELD = re.compile(r"^([A-Za-z]):\s?(.*?)\s*$")
_TUNE_START = re.compile(r"(?m)^(?=X:)")


@dataclass(frozen=True)
class AbcTune:
    """One tune of an ABC file.

    ``file`` is the corpus-relative path (``"essenFolksong/erk10.abc"``), ``index`` the 0-based
    position of the tune in the file, ``number`` its ``X:`` value, ``text`` the tune's full ABC
    text (header and body, parseable alone), ``fields`` the header fields in order of appearance
    (a field may repeat, e.g. several ``N:`` lines).
    """

    file: str
    index: int
    number: str
    text: str
    fields: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str, default: str = "") -> str:
        """The first value of header field ``name`` (``"T"``, ``"R"``…), or ``default``."""
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        """Every value of header field ``name`` (empty list if absent)."""
        return list(self.fields.get(name, ()))

    @property
    def title(self) -> str:
        return self.first("T").strip()


def read_text(path: Path) -> str:
    """Reads a corpus text file (UTF-8, falling back to Latin-1 as some Essen files need)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header_fields(tune_text: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in tune_text.splitlines():
        match = _FIELD.match(line)
        if match is None:
            if line.strip() and not line.startswith("%"):
                break  # the first music line ends the header
            continue
        name, value = match.group(1), match.group(2)
        fields.setdefault(name, []).append(value)
        if name == "K":
            break  # K: is the last header field in ABC
    return fields


def split_tunes(text: str, *, file: str) -> list[AbcTune]:
    """Splits an ABC collection into tunes on its ``X:`` lines.

    Text before the first ``X:`` (a file header) is dropped; a chunk without a ``K:`` field or
    without any music after the header is not a tune and is skipped.
    """
    tunes: list[AbcTune] = []
    for chunk in _TUNE_START.split(text):
        if not chunk.startswith("X:"):
            continue
        fields = _header_fields(chunk)
        if "K" not in fields:
            continue
        body = chunk.split("\nK:", 1)[-1].split("\n", 1)
        if len(body) < 2 or not re.search(r"[A-Ga-g]", body[1]):
            continue
        tunes.append(
            AbcTune(file=file, index=len(tunes), number=fields["X"][0].strip(), text=chunk.strip() + "\n", fields=fields)
        )
    return tunes


def read_tunes(path: Path, *, file: str) -> list[AbcTune]:
    """The tunes of the ABC file ``path`` (``file`` is the name recorded in each tune)."""
    if not path.is_file():
        raise DataError(f"ABC file {path} is missing; reinstall music21 with its corpus (pip install --force-reinstall music21).")
    return split_tunes(read_text(path), file=file)
