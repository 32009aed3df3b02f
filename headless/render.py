"""One-shot local render inside Blender: ``blender --background --python headless/render.py -- PATH... --out DIR``.

Takes the same arguments as ``pose-factory render`` (everything after ``--``) and runs the
same code; also works as ``python headless/render.py PATH... --out DIR`` with the bpy module.
The exit status is non-zero when a file is missing or unusable or a character failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pose_factory_addon.cli import main


def _arguments(argv: list[str]) -> list[str]:
    return argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]


if __name__ == "__main__":
    status = main(["render", *_arguments(sys.argv)])
    sys.stdout.flush()
    sys.exit(status)
