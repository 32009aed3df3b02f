"""``pose-factory samples``: regenerate the procedural sample characters (FBX and GLB).

Runs Blender's ``bpy`` module in this process; bpy is imported only when the verb runs. The
exporters' progress chatter is dropped; the verb prints one line per file written.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path
from typing import Any

from ..core.errors import RenderError
from ..core.output_paths import writable_folder


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "samples",
        help="write the procedural sample characters used by the demo and the tests",
        description="Write the Mixamo-like sample mannequins (FBX as Mixamo ships it, GLB with animation) into a folder.",
    )
    parser.add_argument("--out", required=True, help="folder to write the sample files into (created if missing)")
    parser.set_defaults(func=write_samples)


def write_samples(args: argparse.Namespace) -> int:
    out_dir = writable_folder(Path(args.out), "--out")
    from ..render.sample_characters import write_sample_set

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            paths = write_sample_set(out_dir)
    except OSError as error:
        raise RenderError(f"could not write sample characters to {out_dir}: {error.strerror or error}") from None
    for path in paths:
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
    return 0
