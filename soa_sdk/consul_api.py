"""The Consul client of the SDK: python-consul2 where it has a method, plain HTTP where not.

python-consul2 covers KV, agent registration, catalog, health, ``PUT /v1/config`` and the
legacy intentions API. It has no admin partitions, no ``partition`` parameter, no
``intentions/exact`` and drops ``cas=0``; :meth:`ConsulApi.request` calls those endpoints
directly with the same token. HTTP errors become our typed errors in one place.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import consul
import requests

from soa_sdk.errors import AccessDenied, NotFound, ServiceUnavailable, SoaLabError, ValidationError
from soa_sdk.reachability import GuardedSession


class ConsulApi:
    """A Consul endpoint and its token. ``client`` is a python-consul2 ``consul.Consul``."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        parsed = urlparse(self.url)
        self.client = consul.Consul(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8500),
            scheme=parsed.scheme or "http",
            token=token,
        )
        # python-consul2 prefers $CONSUL_HTTP_TOKEN over the token it is given; be explicit.
        self.client.token = token
        # Both transports raise ServiceUnavailable naming Consul when it stops answering
        # (python-consul2's std HTTPClient keeps its requests session in ``http.session``).
        self.client.http.session = GuardedSession("consul", self.url)
        self._http = GuardedSession("consul", self.url)
        if token:
            self._http.headers["X-Consul-Token"] = token

    def __repr__(self) -> str:
        return f"ConsulApi(url={self.url!r})"

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        json: Any = None,
        doing: str = "",
    ) -> Any:
        """Call ``/v1/<path>``; return the decoded JSON (or text), raise ours on error."""
        try:
            response = self._http.request(
                method,
                f"{self.url}/v1/{path.lstrip('/')}",
                params=params,
                json=json,
                timeout=self.timeout,
            )
        except requests.RequestException as error:  # a bad URL and the like
            raise ServiceUnavailable(
                f"Consul at {self.url} could not be called ({error})."
            ) from None
        if response.status_code >= 400:
            raise translate_http_error(response.status_code, response.text, doing or path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    def put_config(self, entry: dict[str, Any], partition: str = "default") -> None:
        """``PUT /v1/config``: create or replace a config entry in ``partition``."""
        self.request(
            "PUT",
            "config",
            params={"partition": partition},
            json=entry,
            doing=f"write the {entry.get('Kind')} '{entry.get('Name')}'",
        )

    def get_config(self, kind: str, name: str, partition: str = "default") -> dict[str, Any] | None:
        """``GET /v1/config/:kind/:name``; None when it does not exist."""
        try:
            return self.request("GET", f"config/{kind}/{name}", params={"partition": partition})
        except NotFound:
            return None

    def delete_config(self, kind: str, name: str, partition: str = "default") -> None:
        """``DELETE /v1/config/:kind/:name`` (no error when it is already gone)."""
        self.request(
            "DELETE",
            f"config/{kind}/{name}",
            params={"partition": partition},
            doing=f"delete the {kind} '{name}'",
        )


def translate_http_error(status: int, text: str, doing: str) -> SoaLabError:
    message = f"Consul refused to {doing}: {text.strip()}"
    if status == 403:
        return AccessDenied(message + " (check the Consul token).")
    if status == 404:
        return NotFound(message)
    if status == 400:
        return ValidationError(message)
    return SoaLabError(message)
