"""``python -m mtl_music.design``: see :mod:`mtl_music.design.app`."""

from mtl_music.config import check_command_line
from mtl_music.design.app import main

if __name__ == "__main__":
    check_command_line()
    main()
