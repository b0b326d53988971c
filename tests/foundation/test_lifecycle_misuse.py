"""The sandbox's lifecycle under misuse: concurrent ``up``s, a broken or missing state file, a
partly dead sandbox, a service whose dependency died. Each test runs real services through
the CLI, in a home of its own, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
from soa_lab_cli import cli

from soa_sdk.sandbox import lifecycle
from soa_sdk.sandbox.process import wait_until
from soa_sdk.sandbox.services import SERVICES
from soa_sdk.sandbox.services.postgres import PASSWORD
from soa_sdk.sandbox.state import STATE_FILE, SandboxState

BAD_STATES = {
    "empty": "",
    "not JSON": "{oops",
    "a list": "[]",
    "services a list": '{"version": 1, "services": []}',
    "a record wrongly typed": '{"version": 1, "services": {"aws": {"url": 1, "pid": "x"}}}',
}


def sandbox_processes(home: Path) -> list[psutil.Process]:
    """Every live process started for ``home``: services inherit ``SOA_LAB_HOME``."""
    found = []
    for candidate in psutil.process_iter():
        try:
            if candidate.status() != psutil.STATUS_ZOMBIE and candidate.environ().get(
                "SOA_LAB_HOME"
            ) == str(home):
                found.append(candidate)
        except psutil.Error:
            continue
    return found


def service_leaders(home: Path) -> list[psutil.Process]:
    """The services' main processes: each leads a session of its own."""
    leaders = []
    for candidate in sandbox_processes(home):
        try:
            if os.getsid(candidate.pid) == candidate.pid:
                leaders.append(candidate)
        except OSError:
            continue
    return leaders


def nothing_left(home: Path) -> bool:
    return wait_until(lambda: not sandbox_processes(home), 10.0, interval=0.1)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    yield home
    lifecycle.down(home)
    left = sandbox_processes(home)
    for straggler in left:  # only processes started for this test's own home
        try:
            straggler.kill()
        except psutil.Error:
            pass
    assert not left, f"processes left behind: {[p.pid for p in left]}"


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not psutil.pid_exists(pid) or _zombie(pid), 5.0)


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def pids(home: Path) -> dict[str, int]:
    return {name: record.pid for name, record in SandboxState.load(home).services.items()}


def test_two_ups_at_once_start_one_sandbox(home):
    environment = {**os.environ, "SOA_LAB_HOME": str(home)}
    command = [sys.executable, "-m", "soa_sdk.cli", "up"]
    ups = [
        subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [up.communicate(timeout=120)[0] for up in ups]
    assert [up.returncode for up in ups] == [0, 0], outputs

    leaders = service_leaders(home)
    assert len(leaders) == len(SERVICES), [p.cmdline()[:3] for p in leaders]
    assert {p.pid for p in leaders} == set(pids(home).values())
    assert any("already running" in output for output in outputs), outputs

    assert cli(home, "down").returncode == 0
    assert nothing_left(home)


@pytest.mark.parametrize("content", BAD_STATES.values(), ids=BAD_STATES.keys())
def test_a_broken_state_file_gets_a_clear_message_from_every_command(home, content):
    home.mkdir()
    (home / STATE_FILE).write_text(content)

    status = cli(home, "status")
    assert status.returncode == 2
    assert "state file" in status.stderr and "not usable" in status.stderr, status.stderr

    as_json = cli(home, "status", "--json")
    assert as_json.returncode == 2
    document = json.loads(as_json.stdout)
    assert "not usable" in document["error"] and document["healthy"] is False

    doctor = cli(home, "doctor")
    assert doctor.returncode == 1
    assert "not usable" in doctor.stdout

    for result in (status, as_json, doctor):
        assert "Traceback" not in result.stdout + result.stderr

    up = cli(home, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "not usable" in up.stdout and "afresh" in up.stdout
    assert all(s.healthy for s in lifecycle.status(SandboxState.load(home)))

    (home / STATE_FILE).write_text(content)
    down = cli(home, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "Traceback" not in down.stdout + down.stderr + up.stdout + up.stderr
    assert nothing_left(home)


@pytest.mark.parametrize("damage", ["deleted", "garbage"])
def test_down_stops_everything_without_a_usable_state_file(home, damage):
    assert cli(home, "up").returncode == 0
    assert len(service_leaders(home)) == len(SERVICES)
    if damage == "deleted":
        (home / STATE_FILE).unlink()
        status = cli(home, "status", "--json")
        assert status.returncode == 2
        assert "still run" in json.loads(status.stdout)["error"]
    else:
        (home / STATE_FILE).write_text("{oops")

    down = cli(home, "down")
    assert down.returncode == 0, down.stderr
    assert nothing_left(home)


def test_up_on_a_partly_dead_sandbox_says_what_died_and_restarts_it(home):
    assert cli(home, "up").returncode == 0
    state = SandboxState.load(home)
    database = state.services["postgres"].url
    password = state.secret(PASSWORD)
    with psycopg.connect(database, password=password) as connection:
        # The sandbox turns synchronous_commit off for speed; this commit waits for its WAL.
        connection.execute("SET synchronous_commit = on")
        connection.execute("CREATE TABLE kept (id int)")
    before = pids(home)

    # PostgreSQL keeps its data on disk: it alone is restarted, on the same port and data.
    kill(before["postgres"])
    up = cli(home, "up")
    assert up.returncode == 0, up.stderr
    assert "postgres died" in up.stdout and "Restarted postgres" in up.stdout, up.stdout
    after = pids(home)
    assert after["postgres"] != before["postgres"]
    # Its TLS front depends on it and comes back with it; nothing else restarts.
    restarted = {"postgres", "postgres-tls"}
    assert {n: p for n, p in after.items() if n not in restarted} == {
        n: p for n, p in before.items() if n not in restarted
    }
    assert SandboxState.load(home).services["postgres"].url == database
    with psycopg.connect(database, password=password) as connection:
        assert connection.execute("SELECT count(*) FROM kept").fetchone() == (0,)

    # Consul's state (partitions, the runtime registry, ...) goes with it: start afresh.
    kill(after["consul"])
    up = cli(home, "up")
    assert up.returncode == 0, up.stderr
    assert "consul died" in up.stdout and "partitions" in up.stdout, up.stdout
    assert "afresh" in up.stdout
    fresh = pids(home)
    assert not set(fresh.values()) & set(after.values())
    assert all(s.healthy for s in lifecycle.status(SandboxState.load(home)))
    assert len(service_leaders(home)) == len(SERVICES)


def test_status_shows_a_service_whose_dependency_died_as_degraded(home):
    assert cli(home, "up").returncode == 0
    kill(pids(home)["consul"])

    status = cli(home, "status", "--json")
    assert status.returncode == 1
    services = {s["name"]: s for s in json.loads(status.stdout)["services"]}
    assert services["consul"]["health"] == "stopped"
    assert services["workloads"]["health"] == "degraded: consul is down"
    assert services["workloads"]["healthy"] is False
    assert services["aws"]["health"] == "healthy"
    assert "degraded: consul is down" in cli(home, "status").stdout


@pytest.mark.parametrize("kept", [(), ("aws",)], ids=["no service", "only aws"])
def test_a_state_file_that_lost_services_is_not_a_healthy_sandbox(home, kept):
    """A well-formed state.json that names none or only some of the running services (edited
    or cut short): status and doctor say which are missing, and up finds them again."""
    assert cli(home, "up").returncode == 0
    before = pids(home)
    document = json.loads((home / STATE_FILE).read_text())
    document["services"] = {name: document["services"][name] for name in kept}
    (home / STATE_FILE).write_text(json.dumps(document))

    status = cli(home, "status", "--json")
    assert status.returncode == 1, status.stdout
    report = json.loads(status.stdout)
    assert report["healthy"] is False
    health = {s["name"]: s["health"] for s in report["services"]}
    assert set(health) == set(before)
    assert {n for n, h in health.items() if h == "missing from state.json"} == set(before) - set(
        kept
    )
    assert "missing from state.json" in cli(home, "status").stdout
    doctor = cli(home, "doctor")
    assert doctor.returncode == 1 and "has no record of vault" in doctor.stdout, doctor.stdout

    up = cli(home, "up")
    assert up.returncode == 0, up.stderr
    assert "has no record of" in up.stdout and "from the records" in up.stdout, up.stdout
    assert pids(home) == before  # the running services were found, not started again
    assert cli(home, "status").returncode == 0


@pytest.mark.parametrize("command", [("doctor",), ("status",), ("status", "--json")])
def test_output_into_a_closed_pipe_is_no_traceback(home, command):
    """`soa-lab status | head -1`: the reader goes away before the writer is done."""
    home.mkdir()
    (home / STATE_FILE).write_text("{oops")  # so that status has something to say
    reader_gone = subprocess.Popen(
        [sys.executable, "-m", "soa_sdk.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "SOA_LAB_HOME": str(home)},
    )
    assert reader_gone.stdout is not None and reader_gone.stderr is not None
    reader_gone.stdout.close()
    errors = reader_gone.stderr.read().decode()
    assert reader_gone.wait(timeout=60) != 0
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
