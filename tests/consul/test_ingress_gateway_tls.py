"""The ``ingress-gateway`` config entry's TLS blocks and Consul's checks on ``Hosts``, over
HTTP: refused with Consul's texts (500, the RPC error passed through) before anything is
stored; a value the decoder cannot read is a 400."""

from __future__ import annotations

from typing import Any
from typing import Any as Running  # the emulator fixture (conftest)

import consul
import pytest


def _entry(
    hosts: list[str],
    *,
    gateway_tls: Any = None,
    listener_tls: Any = None,
    protocol: str = "http",
    service: str = "store",
) -> dict[str, Any]:
    listener: dict[str, Any] = {
        "Port": 8443,
        "Protocol": protocol,
        "Services": [{"Name": service, "Hosts": hosts}],
    }
    if listener_tls is not None:
        listener["TLS"] = listener_tls
    entry: dict[str, Any] = {"Kind": "ingress-gateway", "Name": "edge", "Listeners": [listener]}
    if gateway_tls is not None:
        entry["TLS"] = gateway_tls
    return entry


def test_tls_is_stored_as_consul_answers_it(cs: Running, root: consul.Consul) -> None:
    # the gateway-level block is always answered (Consul's struct is not a pointer)
    assert root.config.put(_entry(["store.ingress.consul"])) is True
    assert root.config.get("ingress-gateway", "edge")["TLS"] == {"Enabled": False}
    assert "TLS" not in root.config.get("ingress-gateway", "edge")["Listeners"][0]
    body = _entry(["store.ingress.consul", "*.shop.example.com"], listener_tls={"Enabled": True})
    assert root.config.put(body) is True
    stored = root.config.get("ingress-gateway", "edge")
    assert stored["Listeners"][0]["TLS"] == {"Enabled": True}
    # mapstructure's weak typing: "true" is a bool to Consul's decoder
    assert root.config.put(_entry(["a.example.com"], gateway_tls={"Enabled": "true"})) is True
    assert root.config.get("ingress-gateway", "edge")["TLS"] == {"Enabled": True}
    # '*' is allowed with TLS on a listener only: Consul checks it against the gateway's TLS
    assert root.config.put(_entry(["*"], listener_tls={"Enabled": True})) is True


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            _entry(["*"], gateway_tls={"Enabled": True}),
            "Host '*' is not allowed when TLS is enabled, all hosts must be valid DNS records "
            "to add as a DNSSAN",
        ),
        (_entry(["bad..example.com"]), 'Host "bad..example.com" must be a valid DNS hostname'),
        (_entry(["x" * 64 + ".example.com"]), f'Host "{"x" * 64}.example.com" must be a valid'),
        (
            _entry(["*-test.example.com"]),
            'Host "*-test.example.com" is not valid, a wildcard specifier is only allowed as '
            "the leftmost label",
        ),
        (
            _entry(["api.*.example.com"], gateway_tls={"Enabled": True}),
            'Host "api.*.example.com" is not valid, a wildcard specifier is only allowed',
        ),
        (
            _entry(["a.example.com", "a.example.com"]),
            "Hosts must be unique within a specific listener (listener on port 8443)",
        ),
        (
            _entry(["a.example.com"], protocol="tcp"),
            "Associating hosts to a service is not supported for the tcp protocol (listener "
            "on port 8443)",
        ),
        (
            _entry(["a.example.com"], service="*"),
            "Associating hosts to a wildcard service is not supported (listener on port 8443)",
        ),
        (
            _entry(["a.example.com"], gateway_tls={"Enabled": True, "TLSMinVersion": "TLSv1_3"}),
            "TLS.TLSMinVersion is not implemented by the sandbox",
        ),
    ],
)
def test_refused_with_consuls_text_and_not_stored(
    cs: Running, entry: dict[str, Any], message: str
) -> None:
    r = cs.http("PUT", "/v1/config", json=entry)
    assert r.status_code == 500, r.text
    assert r.text.startswith(message), r.text
    assert cs.http("GET", "/v1/config/ingress-gateway/edge").status_code == 404


def test_exact_texts(cs: Running) -> None:
    r = cs.http("PUT", "/v1/config", json=_entry(["*"], gateway_tls={"Enabled": True}))
    assert r.text == (
        "Host '*' is not allowed when TLS is enabled, all hosts must be valid DNS records to "
        "add as a DNSSAN"
    )
    r = cs.http(
        "PUT", "/v1/config", json=_entry(["a.example.com", "b.example.com", "a.example.com"])
    )
    assert r.text == "Hosts must be unique within a specific listener (listener on port 8443)"


def test_an_unreadable_enabled_is_a_decode_error(cs: Running) -> None:
    r = cs.http("PUT", "/v1/config", json=_entry(["a.example.com"], gateway_tls={"Enabled": "yes"}))
    assert r.status_code == 400
    assert r.text == (
        "Bad request: Request decoding failed: 1 error(s) decoding:\n\n"
        "* cannot parse 'TLS.Enabled' as bool: strconv.ParseBool: parsing \"yes\": invalid syntax"
    )
    r = cs.http("PUT", "/v1/config", json=_entry(["a.example.com"], listener_tls=[True]))
    assert r.status_code == 400 and "'Listeners[0].TLS' expected a map" in r.text
    assert cs.http("GET", "/v1/config/ingress-gateway/edge").status_code == 404
