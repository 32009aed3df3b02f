"""One-shot local render inside Blender: ``blender --background --python headless/render.py -- PATH... --out DIR``.

Takes the same arguments as ``pose-factory render`` (everything after ``--``) and runs the
same code; also works as ``python headless/render.py PATH... --out DIR`` with the bpy module,
from a checkout or from the installed extension. The exit status is non-zero when a file is
missing or unusable or a character failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bootstrap

if __name__ == "__main__":
    sys.exit(_bootstrap.run_cli(__file__, ["render", *_bootstrap.script_arguments(sys.argv)]))
