"""Consul's xDS server (its gRPC port) gave any local client every proxy's configuration, the
leaves' private keys included: with a sidecar's key anyone could call its destinations as it.
As Consul's (``agent/xds``), a stream now needs an ACL token (``x-consul-token``) with
``service:write`` on the service of every proxy the node holds; an unknown token ends it with
``UNAUTHENTICATED``, a token that lacks it with ``PERMISSION_DENIED`` and Consul's permission
error, before anything is sent. The sandbox's Envoy has a token of its own and keeps its
config."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import requests
from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import struct_pb2

from soa_sdk.sandbox.state import SandboxState

SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
SERVICE = "xds-probe"
OTHER = "xds-other"


@pytest.fixture(scope="module")
def proxy(lab: Any) -> Iterator[str]:
    """Two workloads with their sidecars in the default partition: the first's leaf name."""
    (workload,) = lab.workloads.start(SERVICE, "v1")
    (other,) = lab.workloads.start(OTHER, "v1")
    try:
        yield f"leaf:default/{SERVICE}"
    finally:
        lab.workloads.stop(other["id"])
        lab.workloads.stop(workload["id"])


def ask(sandbox: SandboxState, leaf: str, token: str | None) -> list[secret_pb2.Secret]:
    """One ADS stream as the sandbox's Envoy node asking for ``leaf``: the secrets it got."""
    port = sandbox.services["consul"].extra["grpc_port"]
    metadata = struct_pb2.Struct()
    metadata.update({"partition": "*"})
    node = base_pb2.Node(id="envoy", metadata=metadata)
    requests_queue: queue.Queue[Any] = queue.Queue()
    requests_queue.put(
        discovery_pb2.DiscoveryRequest(node=node, type_url=SECRET, resource_names=[leaf])
    )

    def outgoing() -> Iterator[discovery_pb2.DiscoveryRequest]:
        while (item := requests_queue.get()) is not None:
            yield item

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        sent = [("x-consul-token", token)] if token else None
        try:
            for response in stub.StreamAggregatedResources(outgoing(), timeout=10, metadata=sent):
                got = []
                for resource in response.resources:
                    secret = secret_pb2.Secret()
                    resource.Unpack(secret)
                    got.append(secret)
                return got
        finally:
            requests_queue.put(None)
    return []


def refusal(sandbox: SandboxState, leaf: str, token: str | None) -> tuple[Any, str]:
    with pytest.raises(grpc.RpcError) as refused:
        ask(sandbox, leaf, token)
    return refused.value.code(), refused.value.details()


def test_anonymous_stream_gets_no_key(sandbox: SandboxState, proxy: str) -> None:
    code, details = refusal(sandbox, proxy, None)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert details.startswith("Permission denied: anonymous token lacks permission")
    assert "'service:write'" in details


def test_made_up_token_is_unauthenticated(sandbox: SandboxState, proxy: str) -> None:
    code, details = refusal(sandbox, proxy, "00000000-dead-beef-0000-000000000000")
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "unauthenticated: ACL not found")


def test_a_token_for_one_service_is_not_every_proxy(
    lab: Any, sandbox: SandboxState, proxy: str
) -> None:
    """The node holds every partition's proxies: one service's token does not open it, even
    for that service's own leaf."""
    token = lab.consul.request(
        "PUT", "acl/token", json={"ServiceIdentities": [{"ServiceName": SERVICE}]}
    )
    try:
        code, details = refusal(sandbox, proxy, token["SecretID"])
        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert details == (
            f"Permission denied: token with AccessorID '{token['AccessorID']}' lacks "
            f"permission 'service:write' on \"{OTHER}\""
        )
    finally:
        lab.consul.request("DELETE", f"acl/token/{token['AccessorID']}")


def test_the_sandbox_envoy_has_its_token_and_its_config(
    lab: Any, sandbox: SandboxState, proxy: str
) -> None:
    import json
    import os
    from pathlib import Path

    secrets = json.loads((Path(os.environ["SOA_LAB_HOME"]) / "secrets.json").read_text())
    (leaf,) = ask(sandbox, proxy, secrets["envoy_consul_token"])
    assert leaf.name == proxy and leaf.tls_certificate.certificate_chain.inline_string
    # The real Envoy, with that token in its bootstrap, holds the leaf too.
    dump = requests.get(
        sandbox.services["envoy"].url + "/config_dump",
        params={"resource": "dynamic_active_secrets"},
        headers=lab.sandbox.envoy_admin_headers,
        timeout=5,
    ).json()
    assert proxy in json.dumps(dump)
