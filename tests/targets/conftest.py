from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def targets_root(tmp_path_factory) -> Path:
    """A data root holding every target of conf/target/ in its real layout (see tests/helpers/target_files.py).
    Tests only read it; a test that changes files writes its own copy under tmp_path."""
    from tests.helpers.target_files import write_all_targets

    root = tmp_path_factory.mktemp("targets_root")
    write_all_targets(root)
    return root
