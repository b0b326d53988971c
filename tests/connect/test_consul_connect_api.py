"""Consul's Connect endpoints over HTTP: the CA on OpenBao, leaves, the compiled discovery
chain, the mesh's catalog and ingress views, in the shapes of a current Consul."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import hvac
import pytest
import requests
from cryptography import x509

from soa_sdk.sandbox.connect.ca import ConnectCA
from soa_sdk.sandbox.consul import ConsulBackend, create_server

ROOT = "root-token-for-connect-api"


class Api:
    def __init__(self, backend: ConsulBackend, url: str) -> None:
        self.backend, self.url = backend, url

    def get(self, path: str, token: str | None = ROOT, **params: Any) -> requests.Response:
        headers = {"X-Consul-Token": token} if token else {}
        return requests.get(self.url + path, headers=headers, params=params, timeout=30)

    def put(self, path: str, body: Any, token: str = ROOT, **params: Any) -> requests.Response:
        headers = {"X-Consul-Token": token}
        return requests.put(self.url + path, json=body, headers=headers, params=params, timeout=30)


@pytest.fixture(scope="module")
def api(vault: hvac.Client) -> Iterator[Api]:
    backend = ConsulBackend(initial_management_token=ROOT)
    ca = ConnectCA(vault, root_path="api-root", intermediate_path="api-int")
    ca.setup()
    backend.connect_ca = ca
    server = create_server(backend, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Api(backend, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        backend.close()
        thread.join(timeout=5)


def _register(api: Api, name: str, sid: str, version: str, partition: str = "default") -> None:
    body = {
        "Name": name,
        "ID": sid,
        "Port": 9000,
        "Meta": {"version": version},
        "Connect": {"SidecarService": {"Port": 21000}},
    }
    assert api.put("/v1/agent/service/register", body).status_code == 200


def test_ca_roots_agent_and_configuration(api: Api) -> None:
    roots = api.get("/v1/connect/ca/roots", token=None)
    assert roots.status_code == 200
    doc = roots.json()
    assert doc["TrustDomain"].endswith(".consul")
    active = [r for r in doc["Roots"] if r["Active"]]
    assert len(active) == 1 and active[0]["ID"] == doc["ActiveRootID"]
    assert active[0]["RootCert"].startswith("-----BEGIN CERTIFICATE-----")
    assert api.get("/v1/agent/connect/ca/roots", token=None).json() == doc
    assert api.get("/v1/connect/ca/configuration", token="not-a-token").status_code == 403
    config = api.get("/v1/connect/ca/configuration").json()
    assert config["Provider"] == "vault"
    assert config["Config"]["RootPKIPath"] == "api-root/"
    assert "Token" not in config["Config"]


def test_leaf_carries_the_spiffe_id_and_needs_service_write(api: Api) -> None:
    leaf = api.get("/v1/agent/connect/ca/leaf/web")
    assert leaf.status_code == 200, leaf.text
    doc = leaf.json()
    td = api.backend.connect_ca.trust_domain  # type: ignore[union-attr]
    assert doc["ServiceURI"] == f"spiffe://{td}/ns/default/dc/dc1/svc/web"
    cert = x509.load_pem_x509_certificate(doc["CertPEM"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [doc["ServiceURI"]]
    assert doc["PrivateKeyPEM"].startswith("-----BEGIN")
    assert {"SerialNumber", "ValidAfter", "ValidBefore", "Service"} <= set(doc)
    assert api.get("/v1/agent/connect/ca/leaf/web", token="nope").status_code == 403


def test_discovery_chain_default_then_split(api: Api) -> None:
    chain = api.get("/v1/discovery-chain/inventory").json()["Chain"]
    assert chain["Default"] is True
    assert chain["StartNode"] == "resolver:inventory.default.default.dc1"
    assert chain["Protocol"] == "tcp"
    target = chain["Targets"]["inventory.default.default.dc1"]
    assert target["SNI"].startswith("inventory.default.dc1.internal.")
    for entry in (
        {"Kind": "service-defaults", "Name": "inventory", "Protocol": "http"},
        {
            "Kind": "service-resolver",
            "Name": "inventory",
            "DefaultSubset": "v1",
            "Subsets": {
                "v1": {"Filter": "Service.Meta.version == v1"},
                "v2": {"Filter": "Service.Meta.version == v2"},
            },
        },
        {
            "Kind": "service-splitter",
            "Name": "inventory",
            "Splits": [
                {"Weight": 50, "ServiceSubset": "v1"},
                {"Weight": 50, "ServiceSubset": "v2"},
            ],
        },
    ):
        assert api.put("/v1/config", entry).status_code == 200
    chain = api.get("/v1/discovery-chain/inventory").json()["Chain"]
    assert chain["Default"] is False and chain["Protocol"] == "http"
    start = chain["Nodes"][chain["StartNode"]]
    assert start["Type"] == "splitter"
    assert [s["Weight"] for s in start["Splits"]] == [50.0, 50.0]
    nexts = [chain["Nodes"][s["NextNode"]] for s in start["Splits"]]
    assert [n["Resolver"]["Target"] for n in nexts] == [
        "v1.inventory.default.default.dc1",
        "v2.inventory.default.default.dc1",
    ]
    assert chain["Targets"]["v2.inventory.default.default.dc1"]["Subset"] == {
        "Filter": "Service.Meta.version == v2"
    }


def test_catalog_connect_lists_the_sidecars(api: Api) -> None:
    _register(api, "payments", "payments-1", "v1")
    found = api.get("/v1/catalog/connect/payments").json()
    assert [f["ServiceID"] for f in found] == ["payments-1-sidecar-proxy"]
    assert found[0]["ServiceKind"] == "connect-proxy"
    assert found[0]["ServiceProxy"]["DestinationServiceName"] == "payments"
    assert api.get("/v1/catalog/connect/payments", token=None).json() == []


def test_health_ingress_lists_the_gateways_that_route_there(api: Api) -> None:
    entry = {
        "Kind": "ingress-gateway",
        "Name": "edge",
        "Listeners": [{"Port": 8080, "Protocol": "http", "Services": [{"Name": "store"}]}],
    }
    assert api.put("/v1/config", entry).status_code == 200
    gateway = {"Name": "edge", "ID": "edge", "Kind": "ingress-gateway", "Port": 8443}
    assert api.put("/v1/agent/service/register", gateway).status_code == 200
    found = api.get("/v1/health/ingress/store").json()
    assert [f["Service"]["ID"] for f in found] == ["edge"]
    assert api.get("/v1/health/ingress/other").json() == []
