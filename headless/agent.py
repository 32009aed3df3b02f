"""Pod worker launcher: ``blender --background --python headless/agent.py -- --store URL [options]``.

Also runs as ``python headless/agent.py [options]`` with the bpy module installed, from a
checkout or from the installed extension, and exits with the agent's status.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bootstrap

if __name__ == "__main__":
    package = _bootstrap.load_package(__file__)
    agent = importlib.import_module(f"{package.__name__}.agent")
    sys.exit(agent.main(_bootstrap.script_arguments(sys.argv)))
