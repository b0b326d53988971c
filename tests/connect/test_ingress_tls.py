"""TLS on ingress-gateway listeners, as Consul serves it: the gateway's Connect leaf, with
Consul's ingress DNS SANs besides its SPIFFE URI, on the TLS listeners only; through a real
Envoy, a client trusting the roots of ``GET /v1/connect/ca/roots`` verifies the host name."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography import x509

from soa_sdk.sandbox.connect import snapshot
from soa_sdk.sandbox.connect.envoy_names import DOWN_TLS, T_LISTENER, T_SECRET
from soa_sdk.sandbox.consul import ConsulBackend, create_server
from soa_sdk.sandbox.ports import free_port

from .conftest import Mesh, eventually, get

HOST = "store.ingress.consul"


class RecordingCerts:
    """A ``Certs`` that records the DNS SANs each leaf is asked with."""

    trust_domain = "11111111-2222-3333-4444-555555555555.consul"

    def __init__(self) -> None:
        self.asked: dict[tuple[str, str], list[str]] = {}

    def roots_pem(self) -> str:
        return "ROOTS"

    def leaf(self, service: str, partition: str = "default", dns_sans: Any = ()) -> tuple[str, str]:
        self.asked[(service, partition)] = list(dns_sans)
        return f"CERT {service}", f"KEY {service}"


def _gateway(b: ConsulBackend, entry: dict[str, Any]) -> tuple[RecordingCerts, snapshot.Snapshot]:
    b.register_service({"Name": "edge", "ID": "edge-1", "Kind": "ingress-gateway", "Port": 8443})
    b.config_apply({"Kind": "service-defaults", "Name": "store", "Protocol": "http"})
    b.config_apply({"Kind": "ingress-gateway", "Name": "edge", **entry})
    certs = RecordingCerts()
    held = [p for p in snapshot.proxies(b) if p["ID"] == "edge-1"]
    return certs, snapshot.build(b, certs, held)


def test_a_tls_listener_serves_the_leaf_and_a_plain_one_does_not() -> None:
    b = ConsulBackend(initial_management_token="t")
    certs, snap = _gateway(
        b,
        {
            "Listeners": [
                {
                    "Port": 9443,
                    "Protocol": "http",
                    "TLS": {"Enabled": True},
                    "Services": [{"Name": "store", "Hosts": [HOST]}],
                },
                {"Port": 9080, "Protocol": "http", "Services": [{"Name": "store", "Hosts": ["*"]}]},
            ]
        },
    )
    # Consul's generateIngressDNSSANs: its wildcards, then every service's Hosts ('*' is none)
    dc = b.datacenter
    assert certs.asked[("edge", "default")] == [
        "*.ingress.consul",
        f"*.ingress.{dc}.consul",
        HOST,
    ]
    assert "leaf:default/edge" in snap.resources[T_SECRET]
    tls_chain = snap.resources[T_LISTENER]["http:127.0.0.1:9443"]["filter_chains"][0]
    context = tls_chain["transport_socket"]["typed_config"]
    assert context["@type"] == DOWN_TLS
    assert context["require_client_certificate"] is False
    common = context["common_tls_context"]
    assert [s["name"] for s in common["tls_certificate_sds_secret_configs"]] == [
        "leaf:default/edge"
    ]
    assert common["tls_params"] == {"tls_minimum_protocol_version": "TLSv1_2"}
    assert common["alpn_protocols"] == ["http/1.1"]
    plain = snap.resources[T_LISTENER]["http:127.0.0.1:9080"]["filter_chains"][0]
    assert "transport_socket" not in plain
    b.close()


def test_gateway_level_tls_covers_every_listener_tcp_included() -> None:
    b = ConsulBackend(initial_management_token="t")
    certs, snap = _gateway(
        b,
        {
            "TLS": {"Enabled": True},
            "Listeners": [
                {"Port": 9443, "Protocol": "http", "Services": [{"Name": "store"}]},
                {"Port": 9444, "Protocol": "tcp", "Services": [{"Name": "db"}]},
            ],
        },
    )
    assert certs.asked[("edge", "default")] == [
        "*.ingress.consul",
        f"*.ingress.{b.datacenter}.consul",
    ]
    for name in ("http:127.0.0.1:9443", "tcp:127.0.0.1:9444"):
        chain = snap.resources[T_LISTENER][name]["filter_chains"][0]
        assert chain["transport_socket"]["typed_config"]["require_client_certificate"] is False
    tcp = snap.resources[T_LISTENER]["tcp:127.0.0.1:9444"]["filter_chains"][0]
    assert "alpn_protocols" not in tcp["transport_socket"]["typed_config"]["common_tls_context"]
    b.close()


def test_without_tls_the_leaf_has_no_dns_sans() -> None:
    b = ConsulBackend(initial_management_token="t")
    certs, snap = _gateway(
        b, {"Listeners": [{"Port": 9080, "Protocol": "http", "Services": [{"Name": "store"}]}]}
    )
    assert certs.asked[("edge", "default")] == []
    chain = snap.resources[T_LISTENER]["http:127.0.0.1:9080"]["filter_chains"][0]
    assert "transport_socket" not in chain
    b.close()


# --- through a real Envoy -----------------------------------------------------------------


@pytest.fixture(scope="module")
def consul_url(mesh: Mesh) -> Iterator[str]:
    """The mesh's emulator over HTTP (for ``/v1/connect/ca/roots``)."""
    mesh.backend.connect_ca = mesh.ca
    server = create_server(mesh.backend, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def gateway(mesh: Mesh) -> dict[str, int]:
    """store behind the ingress gateway ``edge``: a TLS listener for :data:`HOST`, a plain one."""
    mesh.register("store", "store-1")
    mesh.apply({"Kind": "service-defaults", "Name": "store", "Protocol": "http"})
    ports = {"tls": free_port(), "plain": free_port()}
    mesh.backend.register_service(
        {"Name": "edge", "ID": "edge-1", "Kind": "ingress-gateway", "Port": ports["plain"]}
    )
    mesh.apply(
        {
            "Kind": "ingress-gateway",
            "Name": "edge",
            "Listeners": [
                {
                    "Port": ports["tls"],
                    "Protocol": "http",
                    "TLS": {"Enabled": True},
                    "Services": [{"Name": "store", "Hosts": [HOST]}],
                },
                {
                    "Port": ports["plain"],
                    "Protocol": "http",
                    "Services": [{"Name": "store", "Hosts": ["*"]}],
                },
            ],
        }
    )
    mesh.apply(
        {
            "Kind": "service-intentions",
            "Name": "store",
            "Sources": [{"Name": "edge", "Action": "allow"}],
        }
    )
    return ports


def _trust(consul_url: str) -> ssl.SSLContext:
    roots = requests.get(f"{consul_url}/v1/connect/ca/roots", timeout=10).json()
    context = ssl.create_default_context(cadata="".join(r["RootCert"] for r in roots["Roots"]))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    return context


def _https_get(context: ssl.SSLContext, port: int, sni: str) -> tuple[dict[str, Any], bytes]:
    """GET / over TLS with SNI ``sni`` and ``Host: sni``; (JSON answer, served leaf DER)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    tls = context.wrap_socket(raw, server_hostname=sni)
    try:
        leaf = tls.getpeercert(binary_form=True) or b""
        conn = http.client.HTTPConnection(sni, port, timeout=10)
        conn.sock = tls
        conn.request("GET", "/hello", headers={"Host": sni, "Connection": "close"})
        answer = conn.getresponse()
        assert answer.status == 200, (answer.status, answer.read())
        return json.loads(answer.read()), leaf
    finally:
        tls.close()


def test_tls_listener_through_envoy(mesh: Mesh, gateway: dict[str, int], consul_url: str) -> None:
    context = _trust(consul_url)
    body, der = eventually(lambda: _https_get(context, gateway["tls"], HOST))
    assert body["name"] == "store" and body["path"] == "/hello"
    cert = x509.load_der_x509_certificate(der)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dc = mesh.backend.datacenter
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "*.ingress.consul",
        f"*.ingress.{dc}.consul",
        HOST,
    }
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"spiffe://{mesh.ca.trust_domain}/ns/default/dc/dc1/svc/edge"
    ]
    # the names are checked: one the certificate does not carry fails the handshake
    with pytest.raises(ssl.SSLCertVerificationError):
        _https_get(context, gateway["tls"], "store.example.com")
    # a wildcard SAN covers any service name under the ingress domain
    raw = socket.create_connection(("127.0.0.1", gateway["tls"]), timeout=10)
    with context.wrap_socket(raw, server_hostname="other.ingress.consul") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_listener_of_the_same_gateway_still_answers(
    mesh: Mesh, gateway: dict[str, int]
) -> None:
    url = f"http://127.0.0.1:{gateway['plain']}/plain"
    r = eventually(lambda: [x for x in [get(url)] if x.status_code == 200])
    assert r[0].json()["name"] == "store" and r[0].json()["path"] == "/plain"
    # and it speaks no TLS (Envoy answers the ClientHello as bad HTTP, or closes)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        raw = socket.create_connection(("127.0.0.1", gateway["plain"]), timeout=10)
        with ssl.create_default_context().wrap_socket(raw, server_hostname=HOST):
            pass
