"""``soa-lab up / status / down / doctor`` on a sandbox of its own (not the session's)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import psutil
import pytest
from soa_lab_cli import cli

from soa_sdk import Lab
from soa_sdk.errors import SandboxNotRunning
from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.doctor import examine
from soa_sdk.sandbox.state import SECRETS_FILE, STATE_FILE, SandboxState


@pytest.fixture
def own_home(tmp_path: Path):
    home = tmp_path / "home"
    yield home
    lifecycle.down(home)


def all_processes(state: SandboxState) -> list[psutil.Process]:
    found = []
    for record in state.services.values():
        try:
            parent = psutil.Process(record.pid)
            found += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return found


def test_up_status_up_again_down_leaves_nothing(own_home):
    result = cli(own_home, "up")
    assert result.returncode == 0, result.stderr
    state = SandboxState.load(own_home)
    processes = all_processes(state)
    assert processes, "up started processes that outlive the command"
    assert stat.S_IMODE((own_home / SECRETS_FILE).stat().st_mode) == 0o600
    for secret in state.secrets.values():
        assert secret not in (own_home / STATE_FILE).read_text()
        assert secret not in result.stdout + result.stderr

    status = cli(own_home, "status", "--json")
    assert status.returncode == 0
    document = json.loads(status.stdout)
    assert document["healthy"] is True
    assert {s["name"] for s in document["services"]} >= {"aws", "vault", "postgres"}
    assert all(s["url"].split("://")[0] in ("http", "postgresql") for s in document["services"])
    for secret in state.secrets.values():
        assert secret not in status.stdout

    again = cli(own_home, "up")
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert {n: r.pid for n, r in SandboxState.load(own_home).services.items()} == {
        n: r.pid for n, r in state.services.items()
    }

    init = cli(own_home, "tf", "org", "init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert (own_home / "terraform").is_dir()

    down = cli(own_home, "down")
    assert down.returncode == 0
    assert not (own_home / "terraform").exists(), "Terraform's working data was left behind"
    psutil.wait_procs(processes, timeout=5)
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not (own_home / STATE_FILE).exists()
    assert not (own_home / SECRETS_FILE).exists()
    for record in state.services.values():
        for path in record.paths:
            assert not Path(path).exists(), f"{path} was left behind"
    assert cli(own_home, "status").returncode == 3


def test_a_killed_sandbox_is_diagnosed_and_recovered(own_home):
    state, _ = lifecycle.up(own_home)
    victim = state.services["vault"]
    psutil.Process(victim.pid).kill()
    psutil.Process(victim.pid).wait(5)

    with pytest.raises(SandboxNotRunning, match=r"vault.*not answering"):
        Lab.connect("sandbox", home=own_home, start=False)
    findings = [f for f in examine(own_home) if not f.ok]
    assert any("soa-lab down" in f.fix and "vault" in f.what for f in findings)

    recovered, started = lifecycle.up(own_home)
    assert started
    assert all(s.healthy for s in lifecycle.status(recovered))


def test_connect_without_a_sandbox_and_without_start_says_how_to_start(tmp_path):
    with pytest.raises(SandboxNotRunning, match="soa-lab up"):
        Lab.connect("sandbox", home=tmp_path / "nothing", start=False)
