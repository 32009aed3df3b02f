"""Scene variety as data: seeded, order-independent, inside the documented ranges; masks as COCO reads them."""

import json
from dataclasses import asdict

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from pose_factory_addon.core.body_parts import PALETTE, PARTS, palette_record, part_of_bone
from pose_factory_addon.core.camera import rolled
from pose_factory_addon.core.masks import mask_bbox, rle_encode
from pose_factory_addon.core.randomize import (
    ELEVATION_JITTER_DEG,
    FILL_RANGE,
    FOCAL_RANGE_MM,
    KELVIN_RANGE,
    ROLL_RANGE_DEG,
    kelvin_rgb,
    parse_level,
    sample_camera,
    sample_environment,
    sample_look,
    scene_record,
    summarise_scenes,
)

HDRIS = ("city.exr", "forest.exr", "interior.exr", "night.exr")
PHOTOS = ("user/street.jpg", "user/office.png")


def _scene(seed: int, level: str = "full") -> dict:
    frames = {
        frame: scene_record(
            level,
            sample_environment(level, seed, "walker", frame, HDRIS, PHOTOS),
            sample_look(level, seed, "walker"),
            sample_camera(level, seed, "walker", frame, 2, 8),
        )
        for frame in (1, 5, 9)
    }
    return json.loads(json.dumps(frames))


def test_same_seed_gives_the_same_scene_and_another_seed_a_different_one():
    assert _scene(7) == _scene(7)
    assert _scene(7) != _scene(8)
    assert _scene(7, "light") == _scene(7, "light")


def test_none_keeps_the_studio_look():
    assert sample_environment("none", 1, "a", 1, HDRIS) is None
    assert sample_look("none", 1, "a") is None and sample_look("light", 1, "a") is None
    assert sample_camera("none", 1, "a", 1, 0, 8) is None
    assert scene_record("none", None, None, None) == {"randomize": "none", "environment": None, "look": None, "camera": None}


def test_draws_do_not_depend_on_order_or_on_other_characters():
    """A worker rendering only "b" sees exactly what one rendering "a" then "b" sees."""
    alone = sample_camera("full", 3, "b", 4, 1, 8)
    sample_camera("full", 3, "a", 4, 1, 8)
    assert sample_camera("full", 3, "b", 4, 1, 8) == alone
    assert sample_camera("full", 3, "b", 4, 2, 8) != alone, "each view of a frame has its own camera"


def test_camera_jitter_stays_inside_its_ranges():
    jitters = [sample_camera("light", 11, "walker", frame, view, 8) for frame in range(40) for view in range(8)]
    azimuths = [jitter.azimuth_deg for jitter in jitters]
    assert max(map(abs, azimuths)) <= 180 / 8 and max(azimuths) - min(azimuths) > 30
    assert all(abs(jitter.elevation_deg) <= ELEVATION_JITTER_DEG for jitter in jitters)
    assert all(FOCAL_RANGE_MM[0] <= jitter.focal_mm <= FOCAL_RANGE_MM[1] for jitter in jitters)
    assert all(abs(jitter.roll_deg) <= ROLL_RANGE_DEG for jitter in jitters)
    assert all(FILL_RANGE[0] <= jitter.fill <= FILL_RANGE[1] for jitter in jitters)
    focals = sorted(jitter.focal_mm for jitter in jitters)
    assert focals[0] < 30 and focals[-1] > 70, "wide and long lenses both occur"


def test_environments_vary_backgrounds_and_lights():
    environments = [sample_environment("full", 5, "walker", frame, HDRIS, PHOTOS) for frame in range(60)]
    kinds = {environment.background.kind for environment in environments}
    assert kinds == {"hdri", "photo"}
    assert {environment.background.name for environment in environments} == set(HDRIS) | set(PHOTOS)
    kelvins = [light.kelvin for environment in environments for light in environment.lights]
    assert KELVIN_RANGE[0] <= min(kelvins) and max(kelvins) <= KELVIN_RANGE[1]
    assert max(kelvins) - min(kelvins) > 3000
    assert {len(environment.lights) for environment in environments} == {1, 3}
    assert not any(environment.ground for environment in environments)
    assert all(sample_environment("full", 5, "walker", frame, HDRIS, ground=True).ground for frame in range(3))


def test_photo_backdrops_only_at_full_and_studio_without_images():
    light = [sample_environment("light", 5, "walker", frame, HDRIS, PHOTOS) for frame in range(30)]
    assert {environment.background.kind for environment in light} == {"hdri"}
    bare = sample_environment("full", 5, "walker", 1, (), ())
    assert bare is not None and bare.background.kind == "studio"


def test_looks_vary_clothing_and_skin_per_character():
    looks = [sample_look("full", 1, f"person_{index}") for index in range(30)]
    assert all(look is not None for look in looks)
    assert len({look.top.rgb for look in looks}) == 30
    assert len({look.skin_rgb for look in looks}) >= 4
    assert len({look.top.pattern for look in looks}) >= 3
    assert len({(look.sleeve, look.trouser) for look in looks}) >= 5
    assert asdict(looks[0]) == asdict(sample_look("full", 1, "person_0"))


@pytest.mark.parametrize(("kelvin", "warm"), [(2700, True), (7500, False)])
def test_light_colour_follows_temperature(kelvin, warm):
    red, green, blue = kelvin_rgb(kelvin)
    assert max(red, green, blue) == pytest.approx(1.0)
    assert (red > blue) is warm
    white = kelvin_rgb(6500)
    assert min(white) > 0.85


def test_levels_parse_with_a_clear_error():
    assert parse_level(" Full ") == "full"
    with pytest.raises(ValueError, match="choose from none, light, full"):
        parse_level("extreme")


def test_rle_is_what_pycocotools_decodes():
    rng = np.random.default_rng(0)
    for mask in (rng.random((37, 53)) > 0.6, np.zeros((8, 9), bool), np.ones((4, 6), bool)):
        rle = rle_encode(mask)
        coded = coco_mask.frPyObjects(rle, *rle["size"])
        assert np.array_equal(coco_mask.decode(coded).astype(bool), mask)
        assert coco_mask.area(coded) == mask.sum()
    corner = np.zeros((10, 12), bool)
    corner[0, 0] = True
    assert rle_encode(corner)["counts"][:2] == [0, 1], "COCO RLE starts with a run of zeros"


def test_mask_box_is_the_covered_pixels():
    mask = np.zeros((20, 30), bool)
    mask[4:9, 10:25] = True
    assert mask_bbox(mask) == [10.0, 4.0, 15.0, 5.0]
    assert mask_bbox(np.zeros((3, 3), bool)) == [0.0, 0.0, 0.0, 0.0]


def test_body_parts_follow_the_mixamo_bones():
    assert PARTS[part_of_bone("mixamorig:LeftHandIndex1")] == "left_hand"
    assert PARTS[part_of_bone("mixamorig:LeftForeArm")] == "left_lower_arm"
    assert PARTS[part_of_bone("LeftArm")] == "left_upper_arm"
    assert PARTS[part_of_bone("mixamorig:RightToeBase")] == "right_foot"
    assert PARTS[part_of_bone("mixamorig:Spine2")] == "torso"
    assert PARTS[part_of_bone("mixamorig:HeadTop_End")] == "head"
    assert part_of_bone("Prop_Sword") == 0
    assert len(set(PALETTE)) == len(PARTS) == len(palette_record())


def test_roll_turns_the_camera_about_its_view_axis():
    world = np.eye(4)
    world[:3, 3] = (1.0, 2.0, 3.0)
    turned = rolled(world, 90.0)
    assert np.allclose(turned[:3, 3], world[:3, 3]) and np.allclose(turned[:3, 2], world[:3, 2])
    assert np.allclose(turned[:3, 0], [0.0, 1.0, 0.0])


def test_dataset_summary_tells_the_variety_at_a_glance():
    scenes = [scene for frames in (_scene(1), _scene(2)) for scene in frames.values()]
    summary = summarise_scenes(scenes)
    assert summary is not None and summary["images"] == 6
    assert sum(summary["backgrounds"].values()) == 6 and all(":" in name for name in summary["backgrounds"])
    assert FOCAL_RANGE_MM[0] <= summary["focal_mm"]["min"] <= summary["focal_mm"]["median"] <= summary["focal_mm"]["max"]
    assert sum(summary["top_patterns"].values()) == 6
    assert summarise_scenes([]) is None
