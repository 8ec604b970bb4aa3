"""Worker processes and scripts: an unguarded script that runs prepare at import time fails fast."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_unguarded_script_fails_fast_with_the_fix(tmp_path):
    # Spawned workers re-run the top level of a script without `if __name__ == "__main__":`.
    # This used to block the parent forever (CPython writes the worker's start-up data into a
    # pipe it holds open itself); it must end with an error that names the fix.
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from tests.helpers.tiny_dataset import tiny_overrides, write_tiny_dataset
        from mtl_music import prepare
        from mtl_music.config import compose
        root = Path({str(tmp_path)!r}) / "root"
        write_tiny_dataset(root / "ng", n_tracks=20, seconds=3.0)
        prepare.run(compose("prepare", [*tiny_overrides(root, "ng"), "data.prepare.num_workers=2"]))
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    assert 'if __name__ == "__main__":' in proc.stderr
