"""One-shot local render inside Blender: ``blender --background --python headless/render.py -- PATH... --out DIR``.

Takes the same arguments as ``pose-factory render`` (everything after ``--``) and runs the
same code; also works as ``python headless/render.py PATH... --out DIR`` with the bpy module,
from a checkout or from the installed extension. The exit status is non-zero when a file is
missing or unusable or a character failed.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bootstrap

if __name__ == "__main__":
    package = _bootstrap.load_package(__file__)
    cli = importlib.import_module(f"{package.__name__}.cli")
    status = cli.main(["render", *_bootstrap.script_arguments(sys.argv)])
    sys.stdout.flush()
    sys.exit(status)
