"""The panel's Submit To choice: jobs sent to a RunPod Serverless endpoint are submitted, listed and cancelled
through RunPod's API (the wire-format front of tests/runpod_serverless_api.py), with the mapping in the store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runpod_serverless_api import RunPodServerlessAPI, endpoint_without_answers
from ui_helpers import Isolated, connect, draw, small_render_settings, use_characters

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

ENDPOINT = "posefactoryui01"
API_KEY = "rp-ui-test-key-0123456789"


def _store_root(isolated: Isolated) -> Path:
    return isolated.data / "pose-factory" / "store"


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunPodServerlessAPI]:
    with endpoint_without_answers(ENDPOINT, API_KEY) as api:
        monkeypatch.setenv("RUNPOD_SERVERLESS_API_BASE_URL", api.base_url)
        yield api


def _use_serverless(addon: Any, preferences: Any, api_key: str = API_KEY) -> None:
    preferences.job_backend = "SERVERLESS"
    preferences.serverless_endpoint = ENDPOINT
    preferences.runpod_api_key = api_key
    connect(addon)


def test_submit_list_and_cancel_on_a_serverless_endpoint(
    addon: Any, preferences: Any, isolated: Isolated, endpoint: RunPodServerlessAPI, one_character: Path
) -> None:
    _use_serverless(addon, preferences)
    from pose_factory_addon.ui import panels

    jobs_panel = draw(panels.POSEFACTORY_PT_jobs, addon)
    assert f"Jobs go to the RunPod Serverless endpoint {ENDPOINT}" in jobs_panel.joined()
    assert ("prop", (preferences, "serverless_endpoint"), {}) in jobs_panel.calls
    use_characters(addon, one_character)
    small_render_settings(addon)

    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}
    runtime = addon.window_manager.pose_factory
    job_id = runtime.jobs[0].name
    [request] = endpoint.requests.values()
    assert request["input"]["job_id"] == job_id and request["input"]["params"]["angles"] == 2
    store = _store_root(isolated)
    mapping = json.loads((store / "jobs" / "serverless" / f"{job_id}.json").read_text())
    assert mapping["endpoint"] == ENDPOINT and mapping["request_id"] in endpoint.requests
    assert not list((store / "jobs" / "pending").glob("*.json")), "a serverless job is not put in the queue"
    character = request["input"]["params"]["characters"][0]
    assert (store / "assets" / "characters" / f"{character['sha256']}.{character['ext']}").is_file()
    assert API_KEY not in json.dumps(request["input"]) and API_KEY not in json.dumps(mapping)

    deadline = time.monotonic() + 10
    while request["status"] != "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bpy.ops.posefactory.refresh_jobs() == {"FINISHED"}
    assert [(job.name, job.state) for job in runtime.jobs] == [(job_id, "processing")]

    assert bpy.ops.posefactory.cancel_job() == {"FINISHED"}
    assert request["status"] == "CANCELLED"
    assert ("POST", f"/v2/{ENDPOINT}/cancel/{mapping['request_id']}") in endpoint.calls
    assert bpy.ops.posefactory.refresh_jobs() == {"FINISHED"}
    assert [(job.name, job.state) for job in runtime.jobs] == [(job_id, "cancelled")]


def test_serverless_without_an_api_key_uploads_nothing(
    addon: Any, preferences: Any, isolated: Isolated, endpoint: RunPodServerlessAPI, one_character: Path
) -> None:
    _use_serverless(addon, preferences, api_key="")
    use_characters(addon, one_character)
    small_render_settings(addon)
    with pytest.raises(RuntimeError, match="RUNPOD_API_KEY is not set"):
        bpy.ops.posefactory.submit_job()
    assert not (_store_root(isolated) / "assets").exists() and endpoint.requests == {}


def test_the_queue_stays_the_default(addon: Any, preferences: Any, isolated: Isolated, one_character: Path) -> None:
    from pose_factory_addon.ui import panels

    assert preferences.job_backend == "SETTINGS"
    shown = draw(panels.POSEFACTORY_PT_jobs, addon).joined()
    assert f"Jobs go to the job queue in {_store_root(isolated).as_uri()}" in shown
    use_characters(addon, one_character)
    small_render_settings(addon)
    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}
    assert len(list((_store_root(isolated) / "jobs" / "pending").glob("*.json"))) == 1
