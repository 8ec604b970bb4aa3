"""Bad configuration and bad works: clear errors, failures replaced, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtl_music.corpus.catalog import Work
from mtl_music.corpus.demo import CorpusSettings, build
from mtl_music.corpus.jobs import RenderJob, RenderPool, render_fingerprint, render_selection
from mtl_music.corpus.demo_targets import TargetSettings, build_region
from mtl_music.errors import ConfigError

from tests.helpers.corpus_config import tiny_cfg


def _abc_work(key: str, body: str) -> Work:
    return Work(key=key, collection="essen_german", path="test.abc", title=key, artist="test", year=1900,
                genres=("folk/german/song",), abc=f"X:1\nT:{key}\nM:4/4\nL:1/4\nK:C\n{body}\n", tune_type="song")


def _job(tmp_path: Path, work: Work) -> RenderJob:
    return RenderJob(track_id=work.key, work=work, audio_path=str(tmp_path / f"{work.key}.wav"),
                     record_path=str(tmp_path / "records" / f"{work.key}.json"), channels=2, duration=3.0,
                     sample_rate=22050, seed=0,
                     fingerprint=render_fingerprint(seed=0, duration=3.0, sample_rate=22050, channels=2, audio_format="wav"))


def test_a_work_without_notes_is_replaced_by_the_next_candidate(tmp_path):
    jobs = [_job(tmp_path, _abc_work("rests", "z4|z4|")), _job(tmp_path, _abc_work("scale", "CDEF|GABc|"))]
    with RenderPool(num_workers=0, sample_rate=22050) as pool:
        result = render_selection({"g": jobs}, {"g": 1}, pool=pool, desc="t", progress=False)
        assert [r["track_id"] for r in result.records["g"]] == ["scale"]
        assert [f["track_id"] for f in result.failures] == ["rests"] and "no playable notes" in result.failures[0]["reason"]
        again = render_selection({"g": jobs}, {"g": 1}, pool=pool, desc="t", progress=False)
    assert again.rendered == 0 and again.reused == 2, "known failures and finished tracks are not redone"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.corpus.audio_format=mp3", "data.corpus.audio_format"),
        ("data.corpus.size=0", "data.corpus.size"),
        ("+data.corpus.mix.airds_airs=0.5", "unknown collection"),
        ("data.corpus.targets.region.channels=3", "data.corpus.targets.region.channels"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        CorpusSettings.from_cfg(tiny_cfg(tmp_path, override))


def test_unknown_target_class_names_the_key_and_the_choices(tmp_path):
    settings = TargetSettings(name="demo_region", classes=("atlantis",), per_class=3, min_per_class=2, channels=1)
    with RenderPool(num_workers=0, sample_rate=22050) as pool, pytest.raises(ConfigError, match="atlantis.*china"):
        build_region(settings, data_root=tmp_path, seed=0, duration=3.0, sample_rate=22050, pool=pool, progress=False)


def test_build_rejects_bad_settings_before_writing(tmp_path):
    with pytest.raises(ConfigError):
        build(tiny_cfg(tmp_path, "data.corpus.audio_format=aiff"))
    assert not (tmp_path / "demo").exists()
