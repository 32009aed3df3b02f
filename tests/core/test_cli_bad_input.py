"""Bad input to every verb: a non-zero exit with exactly one line on stderr that says what is wrong, never a traceback.

argparse's own errors count like any other: the CLI prints them as one line too
(``pose-factory render: error: ... (see `pose-factory render --help`)``, no usage block).
Most cases run in-process (``cli.main``; an uncaught exception would fail the test with its
traceback); a few run as real processes, including the ones that need a user without root's
power over file permissions (an unwritable ``--out``, an unreadable characters folder).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pose_factory_addon import cli

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "characters" / "Mannequin_Slim_Wave.glb"
JOB = "render_20260108_142501_1a2b3c4d"
ASCII_FBX = "; FBX 7.4.0 project file\n; ----\n\nFBXHeaderExtension:  {\n"

# (arguments, exit status, what the one line must say); SAMPLE is a character Blender can render.
BATTERY: list[tuple[list[str], int, str]] = [
    (["render", "fake.fbx", "--out", "ds"], 2, "fake.fbx: not a binary FBX file"),
    (["render", "empty.fbx", "--out", "ds"], 2, "empty.fbx: empty file"),
    (["render", "ascii.fbx", "--out", "ds"], 2, "ascii.fbx: ASCII FBX is not supported: re-export as binary FBX"),
    (["render", "text.glb", "--out", "ds"], 2, "text.glb: not a glTF file (neither binary glTF nor JSON)"),
    (["render", "chars", "--out", "ds"], 2, "chars/nested/fake.fbx: not a binary FBX file"),
    (["render", str(SAMPLE), "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["render", str(SAMPLE), "--out", "file.txt/run1"], 2, "--out file.txt/run1: file.txt is a file, not a folder"),
    (["render", "missing.fbx", "--out", "ds"], 2, "missing.fbx: no such file or folder"),
    (["render", "file.txt", "--out", "ds"], 2, "file.txt: unsupported file type (use .fbx, .glb, .gltf)"),
    (["render", str(SAMPLE), "--out", "ds", "--angles", "0"], 2, "--angles must be between 1 and 72, got 0"),
    (["render", str(SAMPLE), "--out", "ds", "--angles", "x"], 2, "argument --angles: invalid int value: 'x'"),
    (["render", str(SAMPLE), "--out", "ds", "--resolution", "10x10"], 2, "--resolution width must be between 64 and 4096"),
    (["render", "--out", "ds"], 2, "the following arguments are required: PATH"),
    (["render", str(SAMPLE), "--out", "ds", "--bogus"], 2, "render: error: unrecognized arguments: --bogus"),
    (["render", str(SAMPLE), "--out", "ds", "--resume"], 2, "--resume: ds holds no dataset to resume"),
    (["render", str(SAMPLE), "--out", "ds", "--resume", "--overwrite"], 2, "not allowed with argument --resume"),
    (["preview", "ds", "--out", "ds"], 2, "--out ds is a folder; give an image file name"),
    (["preview", "ds", "--out", "sheet.txt"], 2, "--out sheet.txt: not an image file name"),
    (["preview", "ds", "--out", "file.txt/sheet.png"], 2, "--out file.txt/sheet.png: file.txt is a file, not a folder"),
    (["preview", "missing", "--out", "sheet.png"], 2, "missing: no dataset.json"),
    (["qa", "ds", "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["qa", "ds", "--fail-above", "-1"], 2, "--fail-above must be a positive number"),
    (["enhance", "ds", "--prompt", "a park", "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["enhance", "ds"], 2, "the following arguments are required: --prompt"),
    (["demo", "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["demo", "--samples", "missing"], 2, "missing: sample characters not found"),
    (["submit", "fake.fbx"], 2, "fake.fbx: not a binary FBX file"),
    (["submit", "empty.fbx"], 2, "empty.fbx: empty file"),
    (["submit", "ascii.fbx"], 2, "ASCII FBX is not supported: re-export as binary FBX"),
    (["submit", str(SAMPLE), "--store", "ftp://host/x"], 1, "invalid setting store='ftp://host/x' from arguments"),
    (["status", "not-a-job"], 2, "invalid job id 'not-a-job'"),
    (["status", JOB], 1, f"no job {JOB} in "),
    (["wait", "not-a-job"], 2, "invalid job id 'not-a-job'"),
    (["wait", JOB, "--timeout", "1"], 1, f"no job {JOB} in "),
    (["download", JOB, "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["download", JOB], 1, f"job {JOB} has no completed results"),
    (["cancel", "not-a-job"], 2, "invalid job id 'not-a-job'"),
    (["cancel", JOB], 1, f"no job {JOB} in "),
    (["agent", "--max-jobs", "0"], 2, "--max-jobs must be at least 1"),
    (["agent", "--once", "--workspace", "file.txt/ws"], 2, "file.txt is a file, not a folder"),
    (["agent", "--once", "--store", "./file.txt"], 1, "file.txt: a file, not a folder"),
    (["status", "--store", "store"], 1, "or a folder path starting with / or ./"),
    (["devices", "--device", "tpu"], 2, "argument --device: invalid choice: 'tpu'"),
    (["status", "--state", "done"], 2, "--state done: unknown"),
    (["status", "--since", "yesterday"], 2, "--since 'yesterday': expected an age such as 30m, 6h, 2d"),
    (
        ["submit", str(SAMPLE), "--backend", "serverless", "--endpoint", "x/../y"],
        1,
        "invalid setting serverless_endpoint='x/../y' from arguments",
    ),
    (["cost"], 2, "--count is required"),
    (["cost", "--count", "10", "--provider", "nope"], 2, "unknown provider 'nope'"),
    (["cost", "--count", "5000"], 1, "5000 images is above the batch limit of 1000 images"),
    (["pods", "status"], 2, "no pod given"),
    (["pods", "frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["pods", "list"], 1, "RUNPOD_API_KEY is not set"),
    (["config", "--config", "missing.yaml"], 1, "config='missing.yaml' from --config: file does not exist"),
    (["config", "--config", "file.txt"], 1, "must be a mapping of setting names to values"),
    (["samples", "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["characters", "generate", "--out", "file.txt"], 2, "--out file.txt is a file, not a folder"),
    (["characters", "generate", "--out", "ds", "--age", "500"], 2, "age must be between 1 and 90 years"),
    (["characters", "list", "missing"], 2, "missing: no such folder"),
    (["motions", "play"], 2, "invalid choice: 'play'"),
    (["motions", "list", "--bogus"], 2, "motions list: error: unrecognized arguments: --bogus"),
    (["no-such-verb"], 2, "invalid choice: 'no-such-verb'"),
]


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder of bad inputs, with no user config, credentials or store from the developer's machine."""
    (tmp_path / "file.txt").write_text("a file, not a folder\n")
    (tmp_path / "fake.fbx").write_text("my notes, renamed\n")
    (tmp_path / "empty.fbx").write_bytes(b"")
    (tmp_path / "ascii.fbx").write_text(ASCII_FBX)
    (tmp_path / "text.glb").write_text("not a model\n")
    (tmp_path / "chars" / "nested").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "chars" / "Good.glb")
    (tmp_path / "chars" / "nested" / "fake.fbx").write_text("hello\n")
    (tmp_path / "ds").mkdir()
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_", "AWS_", "STABILITY_", "WORKSPACE_ROOT")):
            monkeypatch.delenv(name)
    for variable, folder in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    monkeypatch.setenv("POSE_FACTORY_STORE", (tmp_path / "store").as_uri())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_battery_covers_every_verb() -> None:
    assert len(BATTERY) >= 30
    assert set(cli.COMMAND_MODULES) <= {arguments[0] for arguments, _, _ in BATTERY}


@pytest.mark.parametrize(("arguments", "status", "says"), BATTERY, ids=[" ".join(case[0]) for case in BATTERY])
def test_bad_input_is_one_line(
    sandbox: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], status: int, says: str
) -> None:
    try:
        code = cli.main(arguments)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == status, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pose-factory") and says in lines[0], lines[0]


def _without_root_powers() -> list[str]:
    """A command prefix under which file permissions apply (root reads and writes anywhere)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def test_bad_input_in_real_processes(sandbox: Path) -> None:
    """No traceback reaches a real process's output; permission problems are named with the system's reason."""
    (sandbox / "read-only").mkdir(mode=0o555)
    (sandbox / "unreadable" / "inner").mkdir(parents=True)
    (sandbox / "unreadable").chmod(0o000)
    cases = [
        (["render", str(SAMPLE), "--out", "read-only/run1"], 2, "--out read-only/run1: cannot write there (Permission denied)"),
        (["render", "unreadable", "--out", "ds"], 2, "unreadable: cannot be read (Permission denied)"),
        (["submit", "ascii.fbx"], 2, "ASCII FBX is not supported: re-export as binary FBX"),
        (["render", str(SAMPLE), "--out", "ds", "--angles", "x"], 2, "(see `pose-factory render --help`)"),
        (["no-such-verb"], 2, "invalid choice"),
    ]
    prefix = _without_root_powers()
    results: dict[int, subprocess.CompletedProcess[str]] = {}

    def run(index: int, arguments: list[str]) -> None:
        command = [*prefix, sys.executable, "-m", "pose_factory_addon.cli", *arguments]
        results[index] = subprocess.run(command, capture_output=True, text=True, timeout=120)

    threads = [threading.Thread(target=run, args=(index, case[0])) for index, case in enumerate(cases)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        (sandbox / "unreadable").chmod(0o755)
    for index, (arguments, status, says) in enumerate(cases):
        process = results[index]
        assert "Traceback" not in process.stdout + process.stderr, process.stderr
        assert process.returncode == status, (arguments, process.stderr)
        [line] = process.stderr.splitlines()
        assert says in line, line
