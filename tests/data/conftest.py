import pytest

from tests.helpers.folder_dataset import folder_overrides, write_clean_dataset


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """A small prepared cache (8 tracks of 3–4.75 s, 2 valid), shared by the reader tests."""
    from mtl_music import prepare
    from mtl_music.config import compose

    root = tmp_path_factory.mktemp("prepared")
    manifest = write_clean_dataset(root / "src")
    cfg = compose("prepare", folder_overrides(root, manifest=manifest))
    result = prepare.run(cfg)
    return result
