"""The local ``hashicorp/boundary`` provider's configuration and its resources' common shape,
over HTTP against Boundary's controller API (``internal/gen/controller.swagger.json``).

Configured as the real provider is (``docs/index.md``): ``addr`` (else ``BOUNDARY_ADDR``);
``token`` (else ``BOUNDARY_TOKEN``), or a login with the password auth method
``auth_method_id`` as ``auth_method_login_name`` / ``auth_method_password``
(``POST /v1/auth-methods/:id:authenticate``, ``command: login``); TLS checked against
``BOUNDARY_CACERT`` / ``BOUNDARY_CAPATH`` unless ``tls_insecure`` (or
``BOUNDARY_TLS_INSECURE``). Every change carries the resource's current ``version``.

A resource type is declared by :class:`BoundaryResource`'s class attributes: its collection,
the parent field, the top-level fields and the ``attributes`` it sends and reads, and the id
sets set through ``:set-<thing>`` actions (``:set-members``, ``:set-principals``, ...).
Read is ``GET /v1/<collection>/:id`` every time; a 404 means gone. What Boundary never returns
(an account's password, a credential store's token) is kept from state.

Left out: ``recovery_kms_hcl`` (KMS-authenticated requests), ``scope_id`` default auth method
lookup, the LDAP and OIDC auth methods, plugin execution.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, ClassVar

import requests

from soa_sdk.sandbox.providers.cty import UNKNOWN
from soa_sdk.sandbox.providers.framework import Provider, ProviderError, Resource, State

log = logging.getLogger(__name__)
TIMEOUT = 30


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "t", "true", "yes")


class BoundaryApiError(ProviderError):
    """An error answer of the controller, with its status and Boundary's own message."""

    def __init__(self, status: int, summary: str, detail: str) -> None:
        super().__init__(summary, detail)
        self.status = status


class BoundaryProvider(Provider):
    def configure(self, config: State) -> None:
        self.config = config
        address = config.get("addr") or os.environ.get("BOUNDARY_ADDR")
        if not address:
            raise ProviderError("No Boundary address", "Set addr or BOUNDARY_ADDR.")
        self.address = address.rstrip("/")
        self.http = requests.Session()
        insecure = config.get("tls_insecure")
        if insecure is None:
            insecure = _flag(os.environ.get("BOUNDARY_TLS_INSECURE"))
        # Given with every request: a session's own verify loses to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = (
            False
            if insecure
            else os.environ.get("BOUNDARY_CACERT") or os.environ.get("BOUNDARY_CAPATH") or True
        )
        self._lock = threading.Lock()
        token = config.get("token") or os.environ.get("BOUNDARY_TOKEN")
        if not token:
            token = self._login(config)
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _login(self, config: State) -> str:
        method = config.get("auth_method_id")
        login = config.get("auth_method_login_name") or config.get(
            "password_auth_method_login_name"
        )
        password = config.get("auth_method_password") or config.get("password_auth_method_password")
        if not (method and login and password):
            raise ProviderError(
                "No Boundary credentials",
                "Set token, or auth_method_id, auth_method_login_name and auth_method_password.",
            )
        answer = self.request(
            "POST",
            f"/v1/auth-methods/{method}:authenticate",
            {"command": "login", "attributes": {"login_name": login, "password": password}},
        )
        token = (answer.get("attributes") or {}).get("token")
        if not token:
            raise ProviderError("Boundary's login answered no token")
        return token

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = self.http.request(
                method,
                self.address + path,
                json=body,
                params=params,
                timeout=TIMEOUT,
                verify=self.verify,
            )
        except requests.RequestException as error:
            raise ProviderError(
                f"Cannot reach Boundary at {self.address}", type(error).__name__
            ) from None
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"message": response.text[:300]}
            raise BoundaryApiError(
                response.status_code,
                f"{method} {path.split('?')[0]}: {problem.get('message') or response.reason}",
                str(problem.get("details") or ""),
            )
        return response.json() if response.content else {}


def _unset(value: Any) -> bool:
    return value is UNKNOWN or value in (None, "", [], {}, 0, False)


class BoundaryResource(Resource):
    provider: BoundaryProvider

    collection: ClassVar[str]
    parent: ClassVar[str] = "scope_id"
    #: The API type sent on create (``None``: the resource's ``type`` argument, if any).
    api_type: ClassVar[str | None] = None
    fields: ClassVar[tuple[str, ...]] = ("name", "description")
    attributes: ClassVar[tuple[str, ...]] = ()
    #: Sent, never read back: kept from state.
    write_only: ClassVar[tuple[str, ...]] = ()
    #: argument -> (action, body key): ids set with ``:<action>`` after create and on change.
    id_sets: ClassVar[dict[str, tuple[str, str]]] = {}
    create_params: ClassVar[dict[str, str]] = {}

    # --- what subclasses may refine -----------------------------------------------------

    def create_query(self, planned: State) -> dict[str, str]:
        return {}

    def body(self, planned: State, creating: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key in self.fields:
            value = planned.get(key)
            if value is UNKNOWN or (creating and _unset(value)):
                continue  # computed and not set: Boundary decides
            body[key] = value
        attributes = {}
        for key in (*self.attributes, *self.write_only):
            value = planned.get(key)
            if value is UNKNOWN or (key in self.write_only and not creating):
                continue
            if value is not None or not creating:
                attributes[key] = value
        if attributes:
            body["attributes"] = attributes
        return body

    def from_item(self, state: State, item: dict[str, Any]) -> State:
        out: State = {**state, "id": item["id"]}
        out[self.parent] = item.get(self.parent, state.get(self.parent))
        for key in self.fields:
            out[key] = self._kept(state.get(key), item.get(key))
        found = item.get("attributes") or {}
        for key in self.attributes:
            out[key] = self._kept(state.get(key), found.get(key))
        for key in self.id_sets:
            out[key] = self._kept(state.get(key), sorted(item.get(key) or []))
        return out

    @staticmethod
    def _kept(configured: Any, from_api: Any) -> Any:
        """The API's value; null where the configuration left it null and Boundary answers
        its zero value (Boundary omits empty fields)."""
        if configured is None and _unset(from_api):
            return None
        return from_api

    # --- CRUD ---------------------------------------------------------------------------

    def _path(self, resource_id: str = "") -> str:
        return f"/v1/{self.collection}/{resource_id}" if resource_id else f"/v1/{self.collection}"

    def create(self, planned: State, config: State) -> State:
        body = {self.parent: planned[self.parent], **self.body(planned, creating=True)}
        kind = self.api_type or planned.get("type")
        if kind:
            body["type"] = kind
        item = self.provider.request("POST", self._path(), body, self.create_query(planned))
        item = self._set_ids(item, {}, planned)
        return self.from_item(planned, item)

    def read(self, state: State) -> State | None:
        try:
            item = self.provider.request("GET", self._path(state["id"]))
        except BoundaryApiError as error:
            if error.status == 404:
                return None
            raise
        return self.from_item(state, item.get("item", item))

    def update(self, prior: State, planned: State, config: State) -> State:
        item = self.provider.request("GET", self._path(prior["id"]))
        changed = {
            k: v
            for k, v in self.body(planned, creating=False).items()
            if k != "attributes" and prior.get(k) != planned.get(k)
        }
        attributes = {
            k: v
            for k, v in (self.body(planned, creating=False).get("attributes") or {}).items()
            if prior.get(k) != planned.get(k)
        }
        if attributes:
            changed["attributes"] = attributes
        if changed:
            item = self.provider.request(
                "PATCH", self._path(prior["id"]), {"version": item["version"], **changed}
            )
        item = self._set_ids(item, prior, planned)
        return self.from_item(planned, item)

    def _set_ids(self, item: dict[str, Any], prior: State, planned: State) -> dict[str, Any]:
        for key, (action, body_key) in self.id_sets.items():
            wanted = sorted(planned.get(key) or [])
            if sorted(item.get(key) or []) == wanted:
                continue
            answer = self.provider.request(
                "POST",
                f"{self._path(item['id'])}:{action}",
                {"version": item["version"], body_key: wanted},
            )
            item = answer.get("item", answer)
        return item

    def delete(self, prior: State) -> None:
        try:
            self.provider.request("DELETE", self._path(prior["id"]))
        except BoundaryApiError as error:
            if error.status != 404:
                raise
