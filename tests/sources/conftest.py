import pytest


@pytest.fixture()
def label_root(tmp_path):
    """A data root with dataset ``labels`` whose label folder holds every source's file."""
    from tests.helpers.source_files import write_all_label_files

    write_all_label_files(tmp_path / "labels" / "labels")
    return tmp_path
