"""Simulated crowds: social tags (Last.fm-like) and listening counts (taste-profile-like).

Both are driven by real attributes of each rendered track (collection, tune type or Essen
function, meter, mode, number of voices, instrument family, tempo) and documented as proxies.

**Tags.** A track's true tags, strongest first: collection words, tune type/function, the
printed tempo direction, instrument families, meter, mode, voices, a tempo word from the
rendered tempo. The crowd keeps each true tag with probability ``keep_p`` (0.7), adds a wrong
tag from the whole vocabulary with probability ``wrong_p`` (0.05) per true tag, adds personal
junk tags ("favorite", "seen live"…) each with probability ``junk_p`` (0.03), and leaves a track
untagged with probability ``untagged_p`` (0.03). Weights follow the rank: the first tag gets
100 and each next one ``decay`` (0.6-0.9 per track) times the previous, Last.fm style (0-100).

**Listeners.** ``n_users`` listeners, each with a preference vector over the one-hot track
attributes (a favourite collection drawn by collection size, plus Gaussian tastes), score the
tracks as ``preference . attributes + popularity`` (popularity log-normal, heavy tailed). Each
listener plays a heavy-tailed number of distinct tracks (log-normal, median 30, 5-300) drawn
without replacement from the softmax of the scores (Gumbel top-k); play counts are
``1 + Poisson(exp(score) scale)``, clipped at 500.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

COLLECTION_TAGS: dict[str, tuple[str, ...]] = {
    "essen_german": ("german folk", "folk", "volkslied"),
    "oneills": ("irish", "irish traditional", "folk", "celtic"),
    "bach": ("baroque", "bach", "chorale", "classical", "sacred"),
    "palestrina": ("renaissance", "sacred", "polyphony", "classical", "early music"),
    "monteverdi": ("renaissance", "madrigal", "early music", "italian", "polyphony"),
    "trecento": ("medieval", "early music", "ars nova", "trecento"),
}
JUNK_TAGS: tuple[str, ...] = ("favorite", "favourites", "seen live", "check out", "my music", "love", "awesome",
                              "beautiful", "chill", "to listen")
_METER_CLASS = {"2/4": "duple meter", "2/2": "duple meter", "4/4": "duple meter", "4/2": "duple meter",
                "3/4": "triple meter", "3/8": "triple meter", "3/2": "triple meter", "3/1": "triple meter",
                "6/8": "compound meter", "9/8": "compound meter", "12/8": "compound meter", "6/4": "compound meter"}


@dataclass(frozen=True)
class CrowdSettings:
    """Noise levels of the simulated crowds (see the module docstring)."""

    keep_p: float = 0.7
    wrong_p: float = 0.05
    junk_p: float = 0.03
    untagged_p: float = 0.03
    n_users: int = 500


def tempo_word(bpm: float) -> str:
    """A tempo word for a rate in beats per minute, folded into 50-200 first (octave-free)."""
    while bpm >= 200.0:
        bpm /= 2.0
    while bpm < 50.0:
        bpm *= 2.0
    if bpm < 75.0:
        return "slow"
    if bpm < 105.0:
        return "moderate"
    if bpm < 135.0:
        return "lively"
    return "fast"


def true_tags(record: dict) -> list[str]:
    """The tags a careful listener would give a rendered track, strongest first, no repeats."""
    work, score, performance = record["work"], record["score"], record["performance"]
    tags: list[str] = []

    def add(tag: str) -> None:
        tag = tag.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)

    collection = COLLECTION_TAGS.get(work["collection"], ())
    if collection:
        add(collection[0])
    if work["tune_type"] and work["tune_type"] not in ("song", "mass movement"):
        add(work["tune_type"])
    for function in work["functions"][:3]:
        add(function)
    if work["collection"] == "palestrina":
        add(work["genres"][-1].rsplit("/", 1)[-1])  # the mass movement: kyrie, gloria…
    for tag in collection[1:]:
        add(tag)
    add(work["tempo_word"])
    for family in performance["families"]:
        add(family)
    if score["meter"]:
        add(score["meter"])
        add(_METER_CLASS.get(score["meter"], ""))
        if score["meter"] == "3/4" and performance["bpm"] >= 120:
            add("waltz time")
    if score["mode"] and not (score["mode_estimated"] and work["collection"] in ("palestrina", "trecento")):
        add(score["mode"])
    elif score["mode"]:
        add("modal")
    voices = score["n_voices"]
    if voices == 1:
        add("solo" if len(performance["families"]) == 1 else "duet")
    else:
        add("polyphonic")
        add(f"{voices} voices")
    add(tempo_word(performance["bpm"]))
    return tags


def crowd_tags(records: list[dict], *, seed: int, settings: CrowdSettings) -> list[list[tuple[str, float]]]:
    """Noisy crowd tags per record: a list of (tag, weight 1-100), highest weight first."""
    rng = np.random.default_rng([int(seed), 7])
    truths = [true_tags(r) for r in records]
    vocabulary = sorted({tag for tags in truths for tag in tags})
    out: list[list[tuple[str, float]]] = []
    for tags in truths:
        if rng.random() < settings.untagged_p:
            out.append([])
            continue
        kept = [t for t in tags if rng.random() < settings.keep_p]
        n_wrong = int(rng.binomial(len(tags), settings.wrong_p))
        wrong = [vocabulary[i] for i in rng.choice(len(vocabulary), size=n_wrong)] if n_wrong and vocabulary else []
        junk = [t for t in JUNK_TAGS if rng.random() < settings.junk_p]
        decay = float(rng.uniform(0.6, 0.9))
        weighted: list[tuple[str, float]] = []
        for rank, tag in enumerate(kept):
            weighted.append((tag, max(1.0, round(100.0 * decay**rank))))
        for tag in wrong + junk:  # crowd mistakes and personal tags sit low in the ranking
            weighted.append((tag, float(rng.integers(1, 31))))
        merged: dict[str, float] = {}
        for tag, weight in weighted:
            merged[tag] = max(weight, merged.get(tag, 0.0))
        out.append(sorted(merged.items(), key=lambda item: (-item[1], item[0])))
    return out


def _attributes(records: list[dict]) -> tuple[np.ndarray, list[str]]:
    """One-hot attribute matrix ``(n_tracks, n_attributes)`` float64 and the attribute names."""
    columns: dict[str, int] = {}
    rows: list[list[int]] = []
    for record in records:
        work, score, performance = record["work"], record["score"], record["performance"]
        names = [
            f"collection={work['collection']}",
            f"type={work['tune_type']}",
            f"meter={_METER_CLASS.get(score['meter'], 'free')}",
            f"mode={score['mode'] or 'unknown'}",
            f"tempo={tempo_word(performance['bpm'])}",
            f"family={performance['family']}",
            f"voices={'1' if score['n_voices'] == 1 else ('2-3' if score['n_voices'] <= 3 else '4+')}",
        ]
        rows.append([columns.setdefault(name, len(columns)) for name in names])
    matrix = np.zeros((len(records), len(columns)))
    for i, row in enumerate(rows):
        matrix[i, row] = 1.0
    return matrix, sorted(columns, key=columns.get)


def user_id(seed: int, index: int) -> str:
    """A 40-hex listener id like the taste profile's (``b80344d0…``)."""
    return hashlib.sha1(f"demo-listener:{seed}:{index}".encode()).hexdigest()


def listening_counts(records: list[dict], *, seed: int, settings: CrowdSettings) -> list[tuple[str, int, int]]:
    """(user id, track index, play count) triplets of the simulated listeners."""
    n_tracks = len(records)
    if n_tracks == 0:
        return []
    rng = np.random.default_rng([int(seed), 11])
    attributes, names = _attributes(records)
    collections = [name for name in names if name.startswith("collection=")]
    collection_size = attributes[:, [names.index(c) for c in collections]].sum(axis=0)
    popularity = rng.lognormal(0.0, 1.0, n_tracks)
    triplets: list[tuple[str, int, int]] = []
    for user in range(settings.n_users):
        preference = rng.normal(0.0, 0.7, len(names))
        favourite = collections[int(rng.choice(len(collections), p=collection_size / collection_size.sum()))]
        preference[names.index(favourite)] += 2.5
        score = attributes @ preference + np.log(popularity)
        n_songs = int(np.clip(round(rng.lognormal(np.log(30.0), 0.9)), 5, min(300, n_tracks)))
        gumbel = score - np.log(-np.log(rng.uniform(1e-12, 1.0, n_tracks)))
        chosen = np.argsort(-gumbel, kind="stable")[:n_songs]
        rate = np.exp(np.clip(0.6 * (score[chosen] - score[chosen].mean()), -3.0, 3.0)) * rng.lognormal(0.5, 0.6)
        counts = np.minimum(1 + rng.poisson(rate), 500)
        uid = user_id(seed, user)
        triplets.extend((uid, int(t), int(c)) for t, c in zip(chosen, counts))
    return triplets
