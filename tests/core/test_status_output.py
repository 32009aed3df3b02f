"""``pose-factory status``: the table shows the start of a failed job's error, ``status ID`` all of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pose_factory_addon.cli import main
from pose_factory_addon.core.manifest import RenderParams, new_render_manifest
from pose_factory_addon.core.queue import JobQueue
from pose_factory_addon.core.store import LocalStore

ERROR = (
    "character Robot_Hero: not a binary FBX file (it starts with 'hello world'); "
    "re-export it from your 3D tool as binary FBX 7.4 or newer and submit again"
)


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("POSE_FACTORY_STORE", raising=False)
    queue = JobQueue(LocalStore(tmp_path / "store"), max_attempts=1)
    character = tmp_path / "Robot Hero.fbx"
    character.write_bytes(b"Kaydara FBX Binary  \x00 pretend character")
    ref = queue.upload_character(character)
    manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
    queue.submit(manifest)
    lease = queue.claim(f"jobs/pending/{manifest.job_id}.json", "worker-1")
    assert lease is not None
    lease.fail(ERROR, retry=False)
    return (tmp_path / "store").as_uri()


def test_the_table_shows_the_start_of_the_error(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--store", store_url]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if " failed " in line)
    assert "character Robot_Hero: not a binary FBX file" in row and row.rstrip().endswith("...")
    assert ERROR not in table, "the table keeps rows one screen wide"


def test_status_of_one_job_shows_the_whole_error(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--store", store_url, "--json"]) == 0
    job_id = capsys.readouterr().out.split('"job_id": "')[1].split('"')[0]
    assert main(["status", job_id, "--store", store_url]) == 0
    detail = capsys.readouterr().out
    assert f"error     {ERROR}" in detail and "state     failed" in detail
