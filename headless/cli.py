"""Any ``pose-factory`` verb inside Blender: ``blender --background --python headless/cli.py -- VERB ARGS...``.

Takes the command line of ``pose-factory`` after ``--`` and runs the same code; also works as
``python headless/cli.py VERB ARGS...`` with the bpy module, from a checkout or from the installed
extension. The Blender panel starts its background work (local renders, generating people)
this way, and ``render --workers`` its worker processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bootstrap

if __name__ == "__main__":
    sys.exit(_bootstrap.run_cli(__file__, _bootstrap.script_arguments(sys.argv)))
