"""Intentions as Consul enforces them, through the real data plane, with ACLs on.

The Consul backend runs in-process with ACLs on and ``default_policy = "deny"`` (what the
sandbox runs); workloads and sidecars are real sockets. Every decision is also asked of
``/v1/connect/intentions/check`` (the backend's ``intention_check``): one rule answers both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from mesh_envs import BackendHost

from soa_sdk.sandbox.consul import ConsulBackend
from soa_sdk.sandbox.mesh import MeshDataPlane
from soa_sdk.sandbox.ports import free_port

HTTP = requests.Session()
DENIED = (403, "RBAC: access denied")


class AclEnv:
    """ConsulBackend with ACLs on (default deny), the mesh over it, a workload host."""

    def __init__(self) -> None:
        self.backend = ConsulBackend(acl_enabled=True)
        self.plane = MeshDataPlane(self.backend).start()
        self.host = BackendHost(self.backend)

    def start(self, name: str, partition: str = "default", **spec: Any) -> dict[str, Any]:
        (w,) = self.host.start({"name": name, "version": "v1", "partition": partition, **spec})
        return w.to_dict()

    def put(self, entry: dict[str, Any], partition: str = "default") -> None:
        assert self.backend.config_apply(entry, partition=partition) is True

    def close(self) -> None:
        self.host.stop_all()
        self.plane.stop()
        self.backend.close()


@pytest.fixture
def acl_env() -> Iterator[AclEnv]:
    env = AclEnv()
    try:
        yield env
    finally:
        env.close()


def upstream(workload: dict[str, Any], name: str) -> str:
    (port,) = [u["local_bind_port"] for u in workload["upstreams"] if u["name"] == name]
    return f"http://127.0.0.1:{port}"


def answer(url: str) -> tuple[int, str]:
    resp = HTTP.get(url, timeout=5)
    return resp.status_code, resp.text


def intentions(env: AclEnv, name: str, sources: list[dict[str, Any]], partition: str = "default"):
    env.put({"Kind": "service-intentions", "Name": name, "Sources": sources}, partition)


def test_default_deny_denies_through_sidecar_and_ingress(acl_env: AclEnv) -> None:
    for name in ("inventory", "store"):
        acl_env.put({"Kind": "service-defaults", "Name": name, "Protocol": "http"})
    acl_env.start("inventory")
    store = acl_env.start("store", upstreams=["inventory"])
    port = free_port()
    acl_env.put(
        {
            "Kind": "ingress-gateway",
            "Name": "ingress-gateway",
            "Listeners": [{"Port": port, "Protocol": "http", "Services": [{"Name": "store"}]}],
        }
    )
    acl_env.backend.register_service(
        {
            "ID": "ingress-gateway",
            "Name": "ingress-gateway",
            "Kind": "ingress-gateway",
            "Port": port,
        }
    )
    ingress = f"http://127.0.0.1:{port}/"

    # No intention at all: Consul's default follows the ACL default policy, deny.
    assert acl_env.backend.intention_check("store", "inventory") is False
    assert answer(upstream(store, "inventory")) == DENIED
    assert answer(ingress) == DENIED
    assert acl_env.backend.intention_check("ingress-gateway", "store") is False

    # Declaring the calls opens exactly them.
    intentions(acl_env, "store", [{"Name": "ingress-gateway", "Action": "allow"}])
    intentions(acl_env, "inventory", [{"Name": "store", "Action": "allow"}])
    assert acl_env.backend.intention_check("store", "inventory") is True
    assert answer(upstream(store, "inventory"))[0] == 200
    resp = HTTP.get(ingress, timeout=5)
    assert resp.status_code == 200
    assert [c["code"] for c in resp.json()["upstream_calls"].values()] == [200]
    # Another caller of inventory is still refused by both.
    assert acl_env.backend.intention_check("web", "inventory") is False


def test_l7_intention_with_no_matching_permission_denies(acl_env: AclEnv) -> None:
    for name in ("inventory", "web"):
        acl_env.put({"Kind": "service-defaults", "Name": name, "Protocol": "http"})
    acl_env.start("inventory")
    url = upstream(acl_env.start("web", upstreams=["inventory"]), "inventory")
    intentions(
        acl_env,
        "inventory",
        [
            {
                "Name": "web",
                "Permissions": [
                    {"Action": "allow", "HTTP": {"PathPrefix": "/items", "Methods": ["GET"]}}
                ],
            }
        ],
    )
    assert answer(url + "/items/7")[0] == 200
    # No permission matches: the default intention behaviour (deny with default-deny ACLs).
    assert answer(url + "/admin") == DENIED
    assert HTTP.delete(url + "/items/7", timeout=5).status_code == 403
    # The L4 check has no request to match: Consul counts an L7 intention as deny.
    assert acl_env.backend.intention_check("web", "inventory") is False


def _partitions(env: AclEnv, *names: str) -> None:
    for name in names:
        env.backend.partition_upsert(name)


def test_caller_from_another_partition_is_checked_with_its_partition(acl_env: AclEnv) -> None:
    _partitions(acl_env, "ecs", "eks")
    acl_env.put({"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"}, "eks")
    acl_env.put({"Kind": "service-defaults", "Name": "web", "Protocol": "http"}, "ecs")
    acl_env.put(
        {
            "Kind": "exported-services",
            "Name": "eks",
            "Services": [{"Name": "inventory", "Consumers": [{"Partition": "ecs"}]}],
        },
        "eks",
    )
    acl_env.start("inventory", "eks")
    web = acl_env.start("web", "ecs", upstreams=[{"name": "inventory", "partition": "eks"}])
    url = upstream(web, "inventory")

    # Sources without a Partition name eks's own services: ecs's web matches none of them.
    intentions(acl_env, "inventory", [{"Name": "web", "Action": "allow"}], "eks")
    intentions(acl_env, "*", [{"Name": "*", "Action": "allow"}], "eks")
    assert answer(url) == DENIED
    intentions(
        acl_env, "inventory", [{"Name": "web", "Partition": "ecs", "Action": "allow"}], "eks"
    )
    assert answer(url)[0] == 200
    intentions(acl_env, "inventory", [{"Name": "web", "Partition": "ecs", "Action": "deny"}], "eks")
    assert answer(url) == DENIED


def test_caller_over_a_peering_is_checked_against_the_destinations_intentions(
    acl_env: AclEnv,
) -> None:
    _partitions(acl_env, "ecs", "eks")
    backend = acl_env.backend
    token = backend.peering_token({"PeerName": "ecs-peer"}, partition="eks")
    backend.peering_establish({"PeerName": "eks-peer", "PeeringToken": token}, partition="ecs")
    acl_env.put({"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"}, "eks")
    acl_env.put(
        {
            "Kind": "exported-services",
            "Name": "eks",
            "Services": [{"Name": "inventory", "Consumers": [{"Peer": "ecs-peer"}]}],
        },
        "eks",
    )
    acl_env.start("inventory", "eks")
    web = acl_env.start("web", "ecs", upstreams=[{"name": "inventory", "peer": "eks-peer"}])
    url = upstream(web, "inventory")

    # eks's intentions decide, with the caller's peer (as eks names the peering) in the match.
    assert answer(url) == DENIED  # none: default deny
    intentions(acl_env, "inventory", [{"Name": "web", "Action": "allow"}], "eks")
    assert answer(url) == DENIED  # eks's own web, not the peer's
    intentions(
        acl_env, "inventory", [{"Name": "web", "Peer": "ecs-peer", "Action": "allow"}], "eks"
    )
    assert answer(url)[0] == 200
    intentions(
        acl_env,
        "inventory",
        [{"Name": "web", "Peer": "ecs-peer", "Action": "deny"}, {"Name": "*", "Action": "allow"}],
        "eks",
    )
    assert answer(url) == DENIED
