"""Render presets are plain data covering every preset name a manifest accepts."""

from __future__ import annotations

import pytest

from pose_factory_addon.core import defaults, manifest, presets


def test_presets_cover_the_manifest_names():
    assert tuple(presets.PRESETS) == manifest.PRESETS
    assert presets.render_preset("preview").engine == "BLENDER_WORKBENCH"
    seed = presets.render_preset("seed")
    assert seed.samples == defaults.SEED_EEVEE_TAA_SAMPLES and seed.lighting == "seed"
    with pytest.raises(ValueError):
        presets.render_preset("ultra")
