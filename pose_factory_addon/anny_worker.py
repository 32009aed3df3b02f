"""Generate people with the Anny body model and hand each to Blender as an ``.npz``: run BY PATH in the characters venv.

Anny needs PyTorch (and numpy 2), which Blender's Python does not carry and must not carry,
so Pose Factory runs this file with the characters interpreter (``.venv-anny``, made by
``make characters-setup``) and never imports it. It imports only the standard library,
numpy, torch and anny.

Protocol: one JSON request on stdin::

    {"out_dir": "/abs/folder", "landmark_base_vertices": {"nose": 1234, ...},
     "people": [{"name": "slug", "seed": 0, "height_m": 1.7 | null,
                 "phenotype": {"gender": 0.0 | null, "age": 0.7 | null, "muscle": ..., "weight": ...,
                               "proportions": ..., "african": ..., "asian": ..., "caucasian": ...}}]}

``null`` phenotype values are drawn from Anny's population distribution (seeded); a ``null``
``height_m`` keeps the drawn height parameter, a number is reached by solving Anny's height
parameter against the measured standing height of the mesh. One JSON object per line on
stdout (see :mod:`pose_factory_addon.core.side_process`): ``{"kind": "ready", "anny_version",
"load_s"}`` once the model is loaded, then per person, in request order, ``{"kind": "person",
"index", "name", "npz", "phenotype", "height_m", "waist_m", "seconds"}`` or ``{"kind":
"person", "index", "name", "error"}``; ``{"kind": "fatal", "error"}`` when Anny cannot load.

The ``.npz`` holds the rest (A-)pose in metres, +Z up, facing -Y, feet on z = 0, centred on
the hips: ``vertices [V, 3]``, ``faces [F, 3]``, ``uvs [F, 3, 2]``, ``bone_names [B]``,
``bone_parents [B]`` (-1 for the root), ``bone_heads``/``bone_tails [B, 3]``, ``bone_matrices
[B, 4, 4]`` (rest frames), ``weight_bones``/``weights [V, K]`` (skin), ``face_regions [F]``
(0 skin, 1 eyes, 2 eye and mouth cavities), ``landmark_names [L]`` and ``landmarks [L, 3]``
(fixed MakeHuman vertices).
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

RIG = "mixamo"
HEIGHT_TOLERANCE_M = 0.002
_REGION_LABELS = {
    1: ("eye_front.L", "eye_front.R", "eye_back.L", "eye_back.R"),
    2: ("eye_cavity.L", "eye_cavity.R", "mouth_cavity", "tongue"),
}


def _emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


class Generator:
    """One loaded Anny model; :meth:`person` builds one rest-pose person."""

    def __init__(self, landmark_base_vertices: dict[str, int]) -> None:
        import anny
        import torch
        from anny.anthropometry import Anthropometry
        from anny.face_segmentation import get_face_segmentation_mask
        from anny.shape_distribution import SimpleShapeDistribution

        self.torch = torch
        self.model = anny.Anny(rig=RIG, phenotypes="all").to(dtype=torch.float32)
        self.labels = list(self.model.phenotype_labels)
        self.population = SimpleShapeDistribution(self.model)
        self.anthropometry = Anthropometry(self.model)
        self.identity = torch.eye(4)[None, None].repeat(1, self.model.bone_count, 1, 1)
        base = self.model.base_mesh_vertex_indices.detach().cpu().numpy().tolist()
        self.landmark_names = sorted(landmark_base_vertices)
        self.landmark_vertices = [base.index(landmark_base_vertices[name]) for name in self.landmark_names]
        faces = self.model.faces.detach().cpu().numpy()
        self.faces = faces.astype(np.int32)
        uv = self.model.texture_coordinates.detach().cpu().numpy()
        self.uvs = uv[self.model.face_texture_coordinate_indices.detach().cpu().numpy()].astype(np.float32)
        self.face_regions = np.zeros(len(faces), dtype=np.int8)
        for region, names in _REGION_LABELS.items():
            self.face_regions[np.asarray(get_face_segmentation_mask(self.model, list(names)))] = region
        self.bone_names = np.array(list(self.model.bone_labels))
        self.bone_parents = np.asarray(self.model.bone_parents, dtype=np.int32)
        self.weight_bones = self.model.vertex_bone_indices.detach().cpu().numpy().astype(np.int32)
        self.weights = self.model.vertex_bone_weights.detach().cpu().numpy().astype(np.float32)

    def _rest(self, phenotype: dict[str, float]) -> dict[str, np.ndarray]:
        with self.torch.no_grad():
            output = self.model(pose_parameters=self.identity, phenotype_kwargs=phenotype)
        return {key: value[0].detach().cpu().numpy() for key, value in output.items() if key.startswith("rest_")}

    def _height(self, phenotype: dict[str, float], value: float) -> float:
        return float(np.ptp(self._rest({**phenotype, "height": value})["rest_vertices"][:, 2]))

    def _solve_height(self, phenotype: dict[str, float], target_m: float) -> float:
        """Anny's height parameter whose mesh stands ``target_m`` tall (regula falsi; the height is monotonic in it)."""
        low, high = 0.0, 1.0
        low_h, high_h = self._height(phenotype, low), self._height(phenotype, high)
        if not low_h - HEIGHT_TOLERANCE_M <= target_m <= high_h + HEIGHT_TOLERANCE_M:
            raise ValueError(f"{target_m:.2f} m is outside what this body can reach ({low_h:.2f} to {high_h:.2f} m)")
        value = 0.5
        for _ in range(30):
            value = low + (target_m - low_h) * (high - low) / max(high_h - low_h, 1e-9)
            height = self._height(phenotype, value)
            if abs(height - target_m) <= HEIGHT_TOLERANCE_M / 2:
                break
            if height < target_m:
                low, low_h = value, height
            else:
                high, high_h = value, height
        return value

    def _drawn(self, requested: dict[str, float | None], seed: int) -> dict[str, float]:
        """Requested phenotype values, with the missing ones drawn from Anny's population distribution."""
        self.torch.manual_seed(seed)
        _years, sample = self.population.sample(1)
        drawn = {key: float(value.reshape(-1)[0]) for key, value in sample.items() if key in self.labels}
        return {key: float(requested[key]) if requested.get(key) is not None else drawn.get(key, 0.5) for key in self.labels}

    def person(self, request: dict, out_dir: Path) -> dict:
        started = time.perf_counter()
        phenotype = self._drawn(request["phenotype"], int(request.get("seed", 0)))
        if request.get("height_m") is not None:
            phenotype["height"] = self._solve_height(phenotype, float(request["height_m"]))
        rest = self._rest(phenotype)
        vertices = rest["rest_vertices"].astype(np.float64)
        hips = rest["rest_bone_heads"][0]
        offset = np.array([-hips[0], -hips[1], -vertices[:, 2].min()])
        matrices = rest["rest_bone_poses"].astype(np.float64).copy()
        matrices[:, :3, 3] += offset
        waist = float(self.anthropometry.waist_circumference(self.torch.as_tensor(vertices[None], dtype=self.torch.float32))[0])
        path = out_dir / f"{request['name']}.npz"
        np.savez_compressed(
            path,
            vertices=(vertices + offset).astype(np.float32),
            faces=self.faces,
            uvs=self.uvs,
            bone_names=self.bone_names,
            bone_parents=self.bone_parents,
            bone_heads=(rest["rest_bone_heads"] + offset).astype(np.float32),
            bone_tails=(rest["rest_bone_tails"] + offset).astype(np.float32),
            bone_matrices=matrices.astype(np.float32),
            weight_bones=self.weight_bones,
            weights=self.weights,
            face_regions=self.face_regions,
            landmark_names=np.array(self.landmark_names),
            landmarks=(vertices[self.landmark_vertices] + offset).astype(np.float32),
        )
        return {
            "kind": "person",
            "name": request["name"],
            "npz": str(path),
            "phenotype": {key: round(value, 5) for key, value in phenotype.items()},
            "height_m": round(float(np.ptp(vertices[:, 2])), 4),
            "waist_m": round(waist, 4),
            "seconds": round(time.perf_counter() - started, 3),
        }


def main() -> int:
    warnings.filterwarnings("ignore")
    request = json.loads(sys.stdin.read())
    out_dir = Path(request["out_dir"])
    started = time.perf_counter()
    try:
        import anny

        generator = Generator(request.get("landmark_base_vertices", {}))
    except Exception as error:  # the parent turns this into one line naming the fix
        _emit({"kind": "fatal", "error": f"{type(error).__name__}: {error}"})
        return 1
    _emit(
        {
            "kind": "ready",
            "anny_version": getattr(anny, "__version__", "unknown"),
            "load_s": round(time.perf_counter() - started, 2),
        }
    )
    for index, person in enumerate(request["people"]):
        try:
            _emit({**generator.person(person, out_dir), "index": index})
        except Exception as error:  # one impossible person must not stop the others; the parent reports it
            message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            _emit({"kind": "person", "index": index, "name": person.get("name"), "error": message})
    return 0


if __name__ == "__main__":
    sys.exit(main())
