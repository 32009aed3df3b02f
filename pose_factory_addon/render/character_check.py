"""Open characters the way a render does, without rendering anything.

``pose-factory submit --check`` uses it to refuse, before anything is uploaded, the files a worker
could not render: no armature, a rig without Mixamo-like bone names, nothing skinned to the rig.
It runs in the submitting process with the bpy module (as ``render`` does), so the verdict arrives
as the importer's own typed errors rather than as text read back from a child process.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core.errors import RenderError
from .importer import import_character
from .pipeline import quiet_output
from .scene import reset_scene


def character_problems(files: Mapping[str, Path]) -> list[str]:
    """One line per character of ``{name: file}`` that cannot be rendered, in the order given; empty when all can.

    Each file is imported and normalised once in a factory-empty scene, exactly as the renderer
    starts. This resets the process's scene: call it in the bpy module or a background Blender only.
    """
    problems = []
    for name, path in files.items():
        reset_scene()
        try:
            with quiet_output():
                import_character(path, name)
        except RenderError as error:
            problems.append(str(error))
        except Exception as error:  # an importer bug on one odd file: name the file, check the others
            problems.append(f"{path.name}: could not be opened ({type(error).__name__}: {error})")
    reset_scene()
    return problems
