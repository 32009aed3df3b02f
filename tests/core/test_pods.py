"""The RunPod client and `pods` CLI against a local HTTP server that speaks RunPod's GraphQL (tests/runpod_server.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from runpod_server import HOSTILE_ID, POD_ID, RunPodServer

from pose_factory_addon.cli import main
from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.errors import PodError, UsageError
from pose_factory_addon.core.pod_state import read_pod_id
from pose_factory_addon.core.pods import RunPodClient, agent_env, validate_pod_id


@pytest.fixture
def client(runpod_server: RunPodServer) -> RunPodClient:
    return RunPodClient("rpa_testkey", runpod_server.base_url, timeout=5.0)


@pytest.fixture
def cli_env(runpod_server: RunPodServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of `RUNPOD_API_BASE_URL=http://127.0.0.1:PORT RUNPOD_API_KEY=k pose-factory ...`."""
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("RUNPOD_API_BASE_URL", runpod_server.base_url)
    monkeypatch.setenv("RUNPOD_API_KEY", "k")
    return tmp_path


def test_list_pods_sends_bearer_key_to_graphql(client: RunPodClient, runpod_server: RunPodServer) -> None:
    pods = client.list_pods()
    assert [(pod.id, pod.status, pod.gpu, pod.cost_per_hr, pod.uptime_seconds) for pod in pods] == [
        (POD_ID, "RUNNING", "A40", 0.39, 3725),
        ("8f3kq0zt2mxa1c", "EXITED", "A40", 0.39, 0),
    ]
    (request,) = runpod_server.requests
    assert request["path"] == "/graphql"
    assert request["headers"]["Authorization"] == "Bearer rpa_testkey"
    assert request["headers"]["Content-Type"] == "application/json"
    assert "myself" in request["body"]["query"]


@pytest.mark.parametrize(
    ("call", "operation", "expected_input"),
    [
        (lambda c: c.get_pod(POD_ID), "pod(input: $input)", {"podId": POD_ID}),
        (lambda c: c.stop_pod(POD_ID), "podStop(input: $input)", {"podId": POD_ID}),
        (lambda c: c.resume_pod(POD_ID), "podResume(input: $input)", {"podId": POD_ID, "gpuCount": 1}),
    ],
)
def test_pod_ids_travel_as_variables(
    client: RunPodClient, runpod_server: RunPodServer, call: Any, operation: str, expected_input: Any
) -> None:
    pod = call(client)
    assert pod.id == POD_ID
    body = runpod_server.requests[-1]["body"]
    assert operation in body["query"]
    assert POD_ID not in body["query"]
    assert body["variables"] == {"input": expected_input}


def test_stop_reports_new_status(client: RunPodClient) -> None:
    assert client.stop_pod(POD_ID).status == "EXITED"
    assert client.resume_pod(POD_ID).status == "RUNNING"


def test_unknown_pod(client: RunPodClient) -> None:
    with pytest.raises(PodError, match="RunPod has no pod zzzzzzzzzzzzzz"):
        client.get_pod("zzzzzzzzzzzzzz")


def test_create_pod_sends_env_as_variables(client: RunPodClient, runpod_server: RunPodServer) -> None:
    env = {"POSE_FACTORY_STORE": "s3://bucket/jobs", "AWS_SECRET_ACCESS_KEY": 'se"cret}'}
    pod = client.create_pod(name="agent", template_id="tmpl123", gpu_type_id="NVIDIA A40", env=env)
    assert pod.id == "n3wp0d5x7q2k9a" and pod.name == "agent"
    body = runpod_server.requests[-1]["body"]
    assert "podFindAndDeployOnDemand(input: $input)" in body["query"]
    assert 'se"cret' not in body["query"] and "tmpl123" not in body["query"]
    assert body["variables"]["input"] == {
        "name": "agent",
        "templateId": "tmpl123",
        "gpuTypeId": "NVIDIA A40",
        "cloudType": "ALL",
        "gpuCount": 1,
        "volumeInGb": 20,
        "containerDiskInGb": 20,
        "env": [
            {"key": "POSE_FACTORY_STORE", "value": "s3://bucket/jobs"},
            {"key": "AWS_SECRET_ACCESS_KEY", "value": 'se"cret}'},
        ],
    }


def test_create_pod_refuses_bad_options(client: RunPodClient, runpod_server: RunPodServer) -> None:
    with pytest.raises(UsageError, match="cloud type"):
        client.create_pod("agent", "tmpl", "NVIDIA A40", {}, cloud_type="CHEAP")
    with pytest.raises(UsageError, match="template"):
        client.create_pod("agent", "", "NVIDIA A40", {})
    assert runpod_server.requests == []


def test_gpu_types(client: RunPodClient, runpod_server: RunPodServer) -> None:
    gpus = {gpu.id: gpu for gpu in client.gpu_types()}
    assert gpus["NVIDIA A40"].community_price is None
    assert (gpus["NVIDIA A40"].secure_price, gpus["NVIDIA A40"].lowest_price, gpus["NVIDIA A40"].memory_gb) == (0.44, 0.39, 48)
    assert gpus["NVIDIA GeForce RTX 4090"].community_price == 0.34
    assert runpod_server.requests[-1]["body"]["variables"] == {"lowestPrice": {"gpuCount": 1}}


def test_unauthorized(client: RunPodClient, runpod_server: RunPodServer) -> None:
    runpod_server.mode = "unauthorized"
    with pytest.raises(PodError, match="RunPod rejected the API key") as caught:
        client.list_pods()
    assert "rpa_testkey" not in str(caught.value)


def test_graphql_error_message(client: RunPodClient, runpod_server: RunPodServer) -> None:
    runpod_server.mode = "graphql_error"
    with pytest.raises(PodError, match="There are no longer any instances available with the requested specifications"):
        client.resume_pod(POD_ID)


def test_timeout_is_a_sentence(runpod_server: RunPodServer) -> None:
    runpod_server.delay_s = 1.0
    with pytest.raises(PodError, match=r"RunPod did not answer within 0.2 seconds \(list pods\); try again later"):
        RunPodClient("k", runpod_server.base_url, timeout=0.2).list_pods()


def test_unreachable_host() -> None:
    with pytest.raises(PodError, match="cannot reach RunPod"):
        RunPodClient("k", "http://127.0.0.1:9", timeout=2.0).list_pods()


def test_missing_key() -> None:
    with pytest.raises(PodError, match="RUNPOD_API_KEY is not set"):
        RunPodClient.from_settings(load_settings(environ={}), environ={})


@pytest.mark.parametrize("pod_id", [HOSTILE_ID, "ABCDEF123456", "abc 123456", "", "a" * 33, "short", "../../etc"])
def test_hostile_pod_id_never_reaches_server(client: RunPodClient, runpod_server: RunPodServer, pod_id: str) -> None:
    for call in (client.get_pod, client.stop_pod, client.resume_pod):
        with pytest.raises(UsageError, match="not a RunPod pod id"):
            call(pod_id)
    assert runpod_server.requests == []


def test_validate_pod_id_accepts_real_ids() -> None:
    assert validate_pod_id(POD_ID) == POD_ID


def test_agent_env_needs_s3_store() -> None:
    settings = load_settings(
        environ={"POSE_FACTORY_STORE": "s3://poses/queue", "POSE_FACTORY_S3_ENDPOINT": "https://acct.r2.example"}
    )
    env = agent_env(settings, environ={"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"})
    assert env == {
        "POSE_FACTORY_STORE": "s3://poses/queue",
        "POSE_FACTORY_S3_REGION": "auto",
        "WORKSPACE_ROOT": "/workspace",
        "POSE_FACTORY_S3_ENDPOINT": "https://acct.r2.example",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    referenced = agent_env(settings, environ={"AWS_SECRET_ACCESS_KEY": "secret"}, use_runpod_secrets=True)
    assert referenced["AWS_ACCESS_KEY_ID"] == "{{ RUNPOD_SECRET_aws_access_key_id }}"
    assert referenced["AWS_SECRET_ACCESS_KEY"] == "{{ RUNPOD_SECRET_aws_secret_access_key }}"
    with pytest.raises(UsageError, match="s3:// store"):
        agent_env(load_settings(environ={"POSE_FACTORY_STORE": "file:///tmp/store"}), environ={})


def test_cli_pods_list_json(cli_env: Path, runpod_server: RunPodServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pods", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(pod["id"], pod["status"], pod["cost_per_hr"]) for pod in listed] == [
        (POD_ID, "RUNNING", 0.39),
        ("8f3kq0zt2mxa1c", "EXITED", 0.39),
    ]
    assert runpod_server.requests[0]["headers"]["Authorization"] == "Bearer k"


def test_cli_pods_list_table(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pods", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "STATUS", "GPU", "COST", "UPTIME", "AGENT"]
    assert lines[2].split() == [POD_ID, "pose-factory-agent", "RUNNING", "1x", "A40", "$0.39/h", "1h", "02m", "-"]


def test_cli_pods_stop_sends_mutation_with_variable(
    cli_env: Path, runpod_server: RunPodServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pods", "stop", POD_ID]) == 0
    assert f"stop requested for pod {POD_ID}" in capsys.readouterr().out
    (request,) = runpod_server.requests
    assert "mutation" in request["body"]["query"] and "podStop" in request["body"]["query"]
    assert request["body"]["variables"] == {"input": {"podId": POD_ID}}


def test_cli_hostile_id_refused_before_request(
    cli_env: Path, runpod_server: RunPodServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pods", "stop", HOSTILE_ID]) == 2
    assert "is not a RunPod pod id" in capsys.readouterr().err
    assert main(["pods", "use", HOSTILE_ID]) == 2
    assert runpod_server.requests == []


def test_cli_saved_pod_is_the_default(cli_env: Path, runpod_server: RunPodServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pods", "status"]) == 2
    assert "no pod given" in capsys.readouterr().err
    assert main(["pods", "use", POD_ID]) == 0
    assert read_pod_id() == POD_ID
    assert f"current pod: {POD_ID}" in capsys.readouterr().out
    assert main(["pods", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["uptime_seconds"] == 3725
    assert main(["pods", "start"]) == 0
    assert runpod_server.requests[-1]["body"]["variables"]["input"]["podId"] == POD_ID
    assert main(["pods", "stop", "--pod", "8f3kq0zt2mxa1c", "--json"]) == 0
    assert runpod_server.requests[-1]["body"]["variables"]["input"]["podId"] == "8f3kq0zt2mxa1c"


def test_cli_create_passes_store_env_and_saves_pod(
    cli_env: Path, runpod_server: RunPodServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSE_FACTORY_STORE", "s3://poses/queue")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIEXAMPLEKEY")
    assert main(["pods", "create", "--template", "tmpl123", "--gpu", "NVIDIA A40"]) == 0
    out = capsys.readouterr().out
    assert "created pod n3wp0d5x7q2k9a" in out and "wJalrXUtnFEMIEXAMPLEKEY" not in out
    env = {item["key"]: item["value"] for item in runpod_server.requests[-1]["body"]["variables"]["input"]["env"]}
    assert env["POSE_FACTORY_STORE"] == "s3://poses/queue"
    assert env["AWS_SECRET_ACCESS_KEY"] == "wJalrXUtnFEMIEXAMPLEKEY"
    assert read_pod_id() == "n3wp0d5x7q2k9a"


def test_cli_gpus_table_sorted_by_price(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pods", "gpus"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert lines[2].startswith("NVIDIA GeForce RTX 4090") and "$0.34/h" in lines[2]
    assert lines[3].startswith("NVIDIA A40") and " - " in lines[3]


def test_cli_errors_are_one_line(
    cli_env: Path, runpod_server: RunPodServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runpod_server.mode = "unauthorized"
    assert main(["pods", "list"]) == 1
    assert capsys.readouterr().err.strip() == "pose-factory pods: RunPod rejected the API key (HTTP 401); check RUNPOD_API_KEY"
    monkeypatch.delenv("RUNPOD_API_KEY")
    assert main(["pods", "list"]) == 1
    assert "RUNPOD_API_KEY is not set" in capsys.readouterr().err


def test_cli_pods_env_prints_secret_references_never_values(
    cli_env: Path, runpod_server: RunPodServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSE_FACTORY_STORE", "s3://poses/queue")
    monkeypatch.setenv("POSE_FACTORY_S3_ENDPOINT", "https://acct.r2.cloudflarestorage.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIEXAMPLEKEY")
    monkeypatch.setenv("STABILITY_API_KEY", "sk-stability-example")
    assert main(["pods", "env"]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split("=", 1) for line in out.splitlines())
    assert lines["POSE_FACTORY_STORE"] == "s3://poses/queue"
    assert lines["AWS_SECRET_ACCESS_KEY"] == "{{ RUNPOD_SECRET_aws_secret_access_key }}"
    assert lines["STABILITY_API_KEY"] == "{{ RUNPOD_SECRET_stability_api_key }}"
    assert "EXAMPLE" not in out and "sk-stability" not in out
    assert runpod_server.requests == []
