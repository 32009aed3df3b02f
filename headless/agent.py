"""Pod worker launcher: ``blender --background --python headless/agent.py -- --store URL [options]``.

Also runs as ``python headless/agent.py [options]`` with the bpy module installed, from a
checkout or from the installed extension, and exits with the agent's status.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_pose_factory_bootstrap", Path(__file__).resolve().parent / "_bootstrap.py")
assert _spec is not None and _spec.loader is not None
_bootstrap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bootstrap)

if __name__ == "__main__":
    package = _bootstrap.load_package(__file__)
    agent = importlib.import_module(f"{package.__name__}.agent")
    sys.exit(agent.main(_bootstrap.script_arguments(sys.argv)))
