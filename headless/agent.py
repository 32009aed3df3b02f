"""Pod worker launcher: ``blender --background --python headless/agent.py -- --store URL [options]``.

Also runs as ``python headless/agent.py [options]`` with the bpy module installed. Puts the
repository root on ``sys.path`` so the package imports from a checkout, takes the arguments
after ``--`` when Blender passes its own first, and exits with the agent's status.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pose_factory_addon.agent import main


def _arguments(argv: list[str]) -> list[str]:
    return argv[argv.index("--") + 1 :] if "--" in argv else argv[1:]


if __name__ == "__main__":
    sys.exit(main(_arguments(sys.argv)))
