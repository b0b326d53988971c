"""A small ``requests`` client for Boundary's controller API (``/v1/...``).

Boundary's API (``internal/gen/controller.swagger.json`` in hashicorp/boundary) is uniform:
``GET|POST /v1/<collection>`` (``scope_id=`` or a parent id such as ``auth_method_id=`` on
lists), ``GET|PATCH|DELETE /v1/<collection>/<id>``, and custom actions
``POST /v1/<collection>/<id>:<action>`` (``:authenticate``, ``:add-members``,
``:authorize-session``, ``:cancel``...). Item answers are the resource itself, list answers
``{"items": [...]}``, custom actions ``{"item": ...}``. Every change to an existing resource
carries its current ``version``. The bearer token goes in ``Authorization``.
"""

from __future__ import annotations

from typing import Any

import requests

from soa_sdk.access.errors import from_response, unreachable

TIMEOUT = 15


class BoundaryApi:
    """One controller URL and (optionally) one bearer token; ``repr`` never shows the token."""

    def __init__(self, url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self._http = requests.Session()

    def __repr__(self) -> str:
        return f"BoundaryApi({self.url!r}, token={'<hidden>' if self._token else None})"

    def as_token(self, token: str | None) -> BoundaryApi:
        """The same controller, called with another bearer token (``None``: anonymous)."""
        return BoundaryApi(self.url, token, self.timeout)

    def request(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request; return the JSON answer (``{}`` for 204), or bytes when ``raw``.
        Any failure becomes a :class:`~soa_sdk.access.errors.BoundaryError` saying ``doing``."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            response = self._http.request(
                method,
                self.url + path,
                params=params,
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise unreachable(self.url, doing, error) from None
        if response.status_code >= 400:
            raise from_response(response, doing)
        if raw:
            return response.content
        return response.json() if response.content else {}

    # --- the uniform resource API ---------------------------------------------------------------

    def list(self, collection: str, doing: str, **params: Any) -> list[dict[str, Any]]:
        """``GET /v1/<collection>?...``: the items (every page: Boundary's default page holds
        them all for the lab's sizes; the sandbox answers ``response_type: complete``)."""
        return list(
            self.request("GET", f"/v1/{collection}", doing, params=params).get("items") or []
        )

    def find(self, collection: str, name: str, **params: Any) -> dict[str, Any] | None:
        """The item of ``collection`` named ``name`` under ``params`` (a scope or parent)."""
        for item in self.list(collection, f"look for {collection} {name!r}", **params):
            if item.get("name") == name:
                return item
        return None

    def read(self, collection: str, resource_id: str, doing: str) -> dict[str, Any]:
        """``GET /v1/<collection>/<id>``."""
        return self.request("GET", f"/v1/{collection}/{resource_id}", doing)

    def create(self, collection: str, body: dict[str, Any], doing: str) -> dict[str, Any]:
        """``POST /v1/<collection>``: the created item."""
        return self.request("POST", f"/v1/{collection}", doing, body=body)

    def update(
        self, collection: str, item: dict[str, Any], changes: dict[str, Any], doing: str
    ) -> dict[str, Any]:
        """``PATCH /v1/<collection>/<id>`` with the item's ``version``."""
        body = {"version": item["version"], **changes}
        return self.request("PATCH", f"/v1/{collection}/{item['id']}", doing, body=body)

    def delete(self, collection: str, resource_id: str, doing: str) -> None:
        """``DELETE /v1/<collection>/<id>`` (204)."""
        self.request("DELETE", f"/v1/{collection}/{resource_id}", doing)

    def action(
        self,
        collection: str,
        item: dict[str, Any],
        action: str,
        body: dict[str, Any],
        doing: str,
        versioned: bool = True,
    ) -> dict[str, Any]:
        """``POST /v1/<collection>/<id>:<action>``; returns the answer's ``item``."""
        payload = {"version": item["version"], **body} if versioned else dict(body)
        answer = self.request(
            "POST", f"/v1/{collection}/{item['id']}:{action}", doing, body=payload
        )
        return answer.get("item", answer)

    def authenticate(self, auth_method_id: str, login_name: str, password: str) -> dict[str, Any]:
        """``POST /v1/auth-methods/<id>:authenticate`` (password method, ``command: login``):
        the auth token resource, whose ``token`` field is the bearer token."""
        body = {"command": "login", "attributes": {"login_name": login_name, "password": password}}
        answer = self.request(
            "POST",
            f"/v1/auth-methods/{auth_method_id}:authenticate",
            f"log {login_name!r} in",
            body=body,
        )
        return answer["attributes"]
