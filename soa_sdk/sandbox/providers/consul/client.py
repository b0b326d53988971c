"""Consul's HTTP API as the provider uses it (the role of Consul's ``api`` package).

One :class:`ConsulClient` per configured provider: the address (``https://`` in the address
sets the scheme, as ``api.NewClient`` does), the ACL token in ``X-Consul-Token``, the CA to
verify the servers with, the datacenter as ``?dc=``; per request the ``partition`` and ``ns``
query parameters the resource names. Consul answers 404 for an object it does not have
(:meth:`get` returns ``None``); any other error status raises :class:`ConsulApiError` with
Consul's own text (``Unexpected response code: 500 (...)``, as ``api`` words it).

Left out: ``http_auth``, client certificates, blocking queries, retries.
"""

from __future__ import annotations

from typing import Any

import requests

TIMEOUT = 30.0


class ConsulApiError(Exception):
    """A Consul answer other than 2xx (and other than the 404 a read expects)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"Unexpected response code: {status} ({text.strip()})")
        self.status = status


class ConsulClient:
    def __init__(
        self,
        address: str,
        token: str | None = None,
        datacenter: str | None = None,
        scheme: str | None = None,
        ca_file: str | None = None,
        insecure_https: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        for prefix in ("https://", "http://"):
            if address.startswith(prefix):
                scheme, address = prefix.removesuffix("://"), address.removeprefix(prefix)
        self.base = f"{scheme or 'http'}://{address.rstrip('/')}"
        self.datacenter = datacenter
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        if token:
            self.session.headers["X-Consul-Token"] = token
        # Given with every request: a session's ``verify`` loses to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = False if insecure_https else (ca_file or True)

    def _params(self, partition: str | None, namespace: str | None) -> dict[str, str]:
        params = {"dc": self.datacenter or "", "partition": partition or "", "ns": namespace or ""}
        return {k: v for k, v in params.items() if v}

    def _call(
        self,
        method: str,
        path: str,
        partition: str | None = None,
        namespace: str | None = None,
        body: Any = None,
    ) -> requests.Response:
        return self.session.request(
            method,
            f"{self.base}{path}",
            params=self._params(partition, namespace),
            json=body,
            timeout=TIMEOUT,
            verify=self.verify,
        )

    def get(self, path: str, partition: str | None = None, namespace: str | None = None) -> Any:
        """``GET path``: the decoded body, or ``None`` when Consul has no such object."""
        reply = self._call("GET", path, partition, namespace)
        if reply.status_code == 404:
            return None
        if not reply.ok:
            raise ConsulApiError(reply.status_code, reply.text)
        return reply.json()

    def put(
        self, path: str, body: Any, partition: str | None = None, namespace: str | None = None
    ) -> Any:
        reply = self._call("PUT", path, partition, namespace, body)
        if not reply.ok:
            raise ConsulApiError(reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def delete(self, path: str, partition: str | None = None, namespace: str | None = None) -> None:
        reply = self._call("DELETE", path, partition, namespace)
        if not reply.ok and reply.status_code != 404:
            raise ConsulApiError(reply.status_code, reply.text)
