"""Text helpers of the demo corpus: title normalisation (leak checks) and lyric tokenisation.

Titles are compared across collections (a target tune whose title also occurs in the training
collection is dropped), so :func:`normalise_title` folds spelling variants: case, accents,
umlaut transcriptions, punctuation, a leading article and tune-type words ("reel", "jig"…).
"""

from __future__ import annotations

import re
import unicodedata

# Words that name the tune type or the edition rather than the tune ("The Acrobat's Hornpipe").
_TYPE_WORDS = frozenset(
    "reel reels jig jigs double single slip slipjig hornpipe hornpipes strathspey strathspeys "
    "polka polkas waltz waltzes march marches clog clogs fling highland set dance air song "
    "slide slides walkaround schottische quickstep mazurka galop the a an".split()
)
_ARTICLE = re.compile(r"^(the|a|an|der|die|das|le|la|il|lo)\s+")
_PARENS = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
# Umlaut transcriptions of the Essen encodings ("MUESSEN") and real umlauts fold to one form.
_UMLAUTS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))


def fold_ascii(text: str) -> str:
    """Lowercases ``text`` and folds accents to ASCII (umlauts to their ``ae`` spelling)."""
    text = text.lower()
    for umlaut, spelled in _UMLAUTS:
        text = text.replace(umlaut, spelled)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_title(title: str) -> str:
    """A comparison key for a tune title: ``"ACROBAT'S -- HORNPIPE"`` -> ``"acrobats"``.

    Drops bracketed remarks, apostrophes, punctuation, tune-type words and articles; returns
    ``""`` for a title made only of such words (such titles never count as a match).
    """
    text = fold_ascii(_PARENS.sub(" ", title)).replace("'", "").replace("’", "")
    text = _ARTICLE.sub("", text.strip())
    words = [w for w in _NON_ALNUM.sub(" ", text).split() if w not in _TYPE_WORDS]
    return " ".join(words)


def tokenise_lyrics(text: str, *, min_length: int = 3) -> list[str]:
    """Lowercased word tokens of a lyric text (letters only, apostrophe contractions kept).

    Syllable hyphens and soft hyphens of score lyrics are removed first, so ``"gio­vi­net­ta"``
    gives one word. Tokens shorter than ``min_length`` letters are dropped: in score underlay
    they are mostly syllable fragments ("ri", "ta"), otherwise stop words. No stemming (the
    musiXmatch files are stemmed; these texts are German, Latin and Italian, for which one
    English stemmer would be wrong).
    """
    text = text.replace("\u00ad", "").replace("-", "").replace("‿", " ")
    tokens = (fold_ascii(tok).replace("’", "'") for tok in _TOKEN.findall(text))
    return [tok for tok in tokens if len(tok.replace("'", "")) >= min_length]
