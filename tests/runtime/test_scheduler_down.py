"""``soa-lab down`` leaves no workload that the sandbox's scheduler started (a sandbox of the
test's own: the session's stays up for the other tests)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psutil
import pytest

from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.state import SandboxState
from soa_sdk.sandbox.workloads import WorkloadHostClient


@pytest.fixture
def own_home(tmp_path: Path):
    home = tmp_path / "home"
    yield home
    lifecycle.down(home)


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_down_stops_what_the_scheduler_runs(own_home: Path) -> None:
    state, _ = lifecycle.up(own_home)
    secrets = state.secrets
    ecs = boto3.client(
        "ecs",
        region_name="us-east-1",
        endpoint_url=state.services["aws"].url,
        aws_access_key_id=secrets["aws_access_key_id"],
        aws_secret_access_key=secrets["aws_secret_access_key"],
    )
    ecs.create_cluster(clusterName="runtime-down")
    revision = ecs.register_task_definition(
        family="runtime-down-echo-v1",
        containerDefinitions=[
            {
                "name": "app",
                "image": "nicholasjackson/fake-service:v0.26.2",
                "memory": 128,
                "environment": [{"name": "NAME", "value": "echo"}],
                "dockerLabels": {"consul.hashicorp.com/service-meta-version": "v1"},
            }
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="runtime-down", serviceName="echo-v1", taskDefinition=revision, desiredCount=2
    )
    host = WorkloadHostClient(state.services["workloads"].url, secrets["workloads_api_token"])
    deadline = time.monotonic() + 30
    while len(host.list("echo")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    running = host.list("echo")
    assert len(running) == 2
    assert {w["placement"]["key"] for w in running} == {
        f"ecs/{ecs_account(state)}/us-east-1/runtime-down/echo-v1"
    }
    ports = [w["port"] for w in running]
    assert all(answers(port) for port in ports)
    processes = [psutil.Process(r.pid) for r in SandboxState.load(own_home).services.values()]

    result = subprocess.run(
        [sys.executable, "-m", "soa_sdk.cli", "down"],
        capture_output=True,
        text=True,
        env={**os.environ, "SOA_LAB_HOME": str(own_home)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    psutil.wait_procs(processes, timeout=5)
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not [port for port in ports if answers(port)], "a workload still answers"
    assert not (own_home / "workloads").exists()


def ecs_account(state: SandboxState) -> str:
    sts = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=state.services["aws"].url,
        aws_access_key_id=state.secrets["aws_access_key_id"],
        aws_secret_access_key=state.secrets["aws_secret_access_key"],
    )
    return str(sts.get_caller_identity()["Account"])
