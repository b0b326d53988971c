"""Turn HTTP requests into backend calls and backend answers into Boundary's JSON.

No logic lives here: parse the path, the query, the bearer token and the JSON body, call one
:class:`~.models.BoundaryBackend` method, serialize what it returns or raises.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from .exceptions import BoundaryError, InvalidArgument, MethodNotAllowed, NotFound
from .exceptions import NotImplementedInSandbox as SandboxGap
from .models import BoundaryBackend
from .proxy import SessionProxy
from .urls import OPERATIONS, boundary_operations, unimplemented, url_paths

_KNOWN = set(boundary_operations())


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _token(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return None


def _body(request: Request) -> dict[str, Any]:
    if not request.data:
        return {}
    try:
        body = json.loads(request.data)
    except ValueError:
        raise InvalidArgument("Unable to parse the request body as JSON.") from None
    if not isinstance(body, dict):
        raise InvalidArgument("The request body must be a JSON object.")
    return body


class BoundaryResponse:
    """One handler per kind of operation; ``dispatch`` is the WSGI entry point."""

    def __init__(self, backend: BoundaryBackend, proxy: SessionProxy) -> None:
        self.backend = backend
        self.proxy = proxy

    def dispatch(self, request: Request) -> Response:
        try:
            return self._route(request)
        except BoundaryError as err:
            return _json(err.to_dict(), err.status)

    def _route(self, request: Request) -> Response:
        for pattern, kind in url_paths:
            m = pattern.match(request.path)
            if m is None:
                continue
            if kind == "sandbox":
                return self.sandbox(request, m["op"])
            parts = m.groupdict()
            key = (request.method, parts["collection"], bool(parts.get("id")),
                   parts.get("action") or "")  # fmt: skip
            handler = OPERATIONS.get(key)
            if handler is None:
                if key in _KNOWN:
                    raise SandboxGap(f"Not implemented in the soa-lab sandbox: "
                                     f"{request.method} {request.path}")  # fmt: skip
                if any(k[1:3] == key[1:3] for k in _KNOWN | set(OPERATIONS)):
                    raise MethodNotAllowed("Method Not Allowed")
                break
            return getattr(self, handler)(request, parts)
        raise NotFound("Not Found")

    def _caller(self, request: Request):
        return self.backend.caller_for_token(_token(request))

    def list(self, request: Request, parts: dict[str, str]) -> Response:
        params = {k: v for k, v in request.args.items()}
        return _json(self.backend.list_resources(parts["collection"], params,
                                                 self._caller(request)))  # fmt: skip

    def create(self, request: Request, parts: dict[str, str]) -> Response:
        item = self.backend.create_resource(parts["collection"], _body(request),
                                            self._caller(request))  # fmt: skip
        return _json(item)

    def read(self, request: Request, parts: dict[str, str]) -> Response:
        return _json(self.backend.read_resource(parts["collection"], parts["id"],
                                                self._caller(request)))  # fmt: skip

    def update(self, request: Request, parts: dict[str, str]) -> Response:
        return _json(
            self.backend.update_resource(
                parts["collection"], parts["id"], _body(request), self._caller(request)
            )
        )

    def delete(self, request: Request, parts: dict[str, str]) -> Response:
        self.backend.delete_resource(parts["collection"], parts["id"], self._caller(request))
        return Response(status=204)

    def membership(self, request: Request, parts: dict[str, str]) -> Response:
        op, _, thing = parts["action"].partition("-")
        method = {
            ("groups", "members"): self.backend.change_group_members,
            ("roles", "principals"): self.backend.change_role_principals,
            ("roles", "grants"): self.backend.change_role_grants,
            ("roles", "grant-scopes"): self.backend.change_role_grant_scopes,
            ("host-sets", "hosts"): self.backend.change_host_set_hosts,
            ("targets", "host-sources"): self.backend.change_target_host_sources,
            ("targets", "credential-sources"): self.backend.change_target_credential_sources,
            ("users", "accounts"): self.backend.change_user_accounts,
        }[(parts["collection"], thing)]
        return _json({"item": method(parts["id"], op, _body(request), self._caller(request))})

    def authenticate(self, request: Request, parts: dict[str, str]) -> Response:
        return _json(self.backend.authenticate(parts["id"], _body(request),
                                               self._caller(request)))  # fmt: skip

    def authorize_session(self, request: Request, parts: dict[str, str]) -> Response:
        item = self.backend.authorize_session(parts["id"], _body(request), self._caller(request))
        return _json({"item": item})

    def cancel_session(self, request: Request, parts: dict[str, str]) -> Response:
        item = self.backend.cancel_session(parts["id"], _body(request), self._caller(request))
        return _json({"item": item})

    def download(self, request: Request, parts: dict[str, str]) -> Response:
        data, mime = self.backend.download_recording(parts["id"], self._caller(request))
        return Response(data, status=200, mimetype=mime)

    def sandbox(self, request: Request, op: str) -> Response:
        """Sandbox-only routes: ``POST /sandbox/reset``, ``POST /sandbox/connect``
        (``{"authorization_token"}`` -> ``{"address", "port", "session_id"}``) and
        ``GET /sandbox/unimplemented``. Reset needs a token allowed to update the global
        scope (401/403 otherwise); connect needs a session's authorization token."""
        if op == "unimplemented" and request.method == "GET":
            return _json({"operations": unimplemented()})
        if request.method != "POST":
            raise MethodNotAllowed("Method Not Allowed")
        if op == "reset":
            # Only who may administer the global scope (``boundary dev``'s admin) may wipe it.
            caller = self._caller(request)
            self.backend.authorize(caller, self.backend.global_ref(), "update")
            self.proxy.close_all()
            self.backend.reset()
            return Response(status=204)
        token = _body(request).get("authorization_token") or ""
        if not token:
            raise InvalidArgument(request_fields={"authorization_token": "Required field."})
        host, port = self.proxy.connect(token)
        session = self.backend.session_for_authorization(token)
        return _json({"address": host, "port": port, "session_id": session.id})
