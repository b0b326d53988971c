"""Issue 12, hole 1: the workload host let anyone register a service in Consul with the
management token. Now every request needs the host's API token, bodies are JSON only, the
Host header must be the loopback listener, and each workload registers with a Consul token
of its own service's identity (the host holds none; the workloads log in for it:
test_workload_login.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from soa_sdk.sandbox.workloads import WorkloadHostClient, WorkloadHostError

IMPOSTOR = {"name": "inventory", "version": "v2.1", "message": "impostor"}


def registered(lab: Any, name: str = "inventory") -> list[dict[str, Any]]:
    return lab.consul.request("GET", f"catalog/service/{name}") or []


def host_url(lab: Any) -> str:
    return lab.endpoints.extra["workloads_url"]


def test_anonymous_post_is_refused_and_registers_nothing(lab: Any) -> None:
    before = (registered(lab), lab.workloads.list())
    # The probe of the issue: a simple cross-origin-style POST (text/plain, no credentials).
    reply = requests.post(
        host_url(lab) + "/v1/workloads",
        data='{"name": "inventory", "version": "v2.1"}',
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in reply.json()["error"]
    reply = requests.post(host_url(lab) + "/v1/workloads", json=IMPOSTOR, timeout=10)
    assert reply.status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    reply = requests.post(host_url(lab) + "/v1/workloads", json=IMPOSTOR, headers=wrong, timeout=10)
    assert reply.status_code == 403 and "error" in reply.json()
    assert (registered(lab), lab.workloads.list()) == before


def test_text_plain_with_the_right_token_is_refused(lab: Any) -> None:
    before = (registered(lab), lab.workloads.list())
    reply = requests.post(
        host_url(lab) + "/v1/workloads",
        data='{"name": "inventory", "version": "v2.1"}',
        headers={
            "Content-Type": "text/plain",
            "Authorization": f"Bearer {lab.credentials.workloads_token}",
        },
        timeout=10,
    )
    assert reply.status_code == 415
    assert "application/json" in reply.json()["error"]
    assert (registered(lab), lab.workloads.list()) == before


def test_a_foreign_host_header_is_refused(lab: Any) -> None:
    """DNS rebinding: a page at evil.example, resolved to 127.0.0.1, sends its own Host."""
    port = urlparse(host_url(lab)).port
    reply = requests.get(
        host_url(lab) + "/v1/workloads",
        headers={
            "Host": f"evil.example:{port}",
            "Authorization": f"Bearer {lab.credentials.workloads_token}",
        },
        timeout=10,
    )
    assert reply.status_code == 403 and "Host" in reply.json()["error"]


def test_the_host_holds_no_consul_token(lab: Any, sandbox: Any) -> None:
    """Neither its environment nor its command line carries the management token."""
    pid = sandbox.services["workloads"].pid
    with open(f"/proc/{pid}/environ", "rb") as handle:
        environ = handle.read()
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        cmdline = handle.read()
    management = lab.credentials.consul_token.encode()
    assert management not in environ and management not in cmdline
    assert lab.credentials.workloads_token.encode() not in cmdline


def test_an_impostor_needs_a_token_that_allows_it(lab: Any) -> None:
    """With the host's token but no Consul token (anonymous), or with the token of another
    service, Consul refuses the registration (403, its text) and nothing runs."""
    before = (registered(lab), lab.workloads.list())
    plain = WorkloadHostClient(host_url(lab), lab.credentials.workloads_token)
    with pytest.raises(WorkloadHostError) as refused:
        plain.start(**IMPOSTOR)
    assert refused.value.status == 403
    assert "Permission denied" in str(refused.value)
    other = lab.consul.request(
        "PUT", "acl/token", json={"ServiceIdentities": [{"ServiceName": "payments"}]}
    )
    try:
        with pytest.raises(WorkloadHostError) as refused:
            plain.start(**IMPOSTOR, consul_token=other["SecretID"])
        assert refused.value.status == 403
        assert "lacks permission 'service:write' on \"inventory\"" in str(refused.value)
    finally:
        lab.consul.request("DELETE", f"acl/token/{other['AccessorID']}")
    assert (registered(lab), lab.workloads.list()) == before
