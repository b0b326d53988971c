"""The emulator's HTTPS listener (Consul's ``ports.https``): the same API over TLS, verified
with the sandbox's CA; a client without that CA is refused the handshake."""

from __future__ import annotations

import threading
from pathlib import Path

import consul
import pytest
import requests

from soa_sdk.sandbox import tls
from soa_sdk.sandbox.consul import ConsulBackend, create_server


def test_https_listener_serves_the_same_backend(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path)
    assert files.key.stat().st_mode & 0o077 == 0
    backend = ConsulBackend(acl_enabled=False)
    plain = create_server(backend, "127.0.0.1", 0)
    secure = create_server(backend, "127.0.0.1", 0, (str(files.cert), str(files.key)))
    for server in (plain, secure):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert secure.url.startswith("https://127.0.0.1:")
        client = consul.Consul(
            host="127.0.0.1", port=secure.server_port, scheme="https", verify=str(files.ca)
        )
        client.kv.put("written/over", "tls")
        over_http = consul.Consul(host="127.0.0.1", port=plain.server_port)
        _, entry = over_http.kv.get("written/over")
        assert entry["Value"] == b"tls"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{secure.url}/v1/status/leader", verify=True, timeout=5)
    finally:
        plain.shutdown()
        secure.shutdown()
        backend.close()
