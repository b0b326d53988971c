"""Errors of step 4: Boundary's answers as soa-lab errors, mapped in one place.

Boundary answers every failure with ``controller.api.v1.Error``: ``{"kind", "message",
"details": {"request_fields": [{"name", "description"}]}}`` and an HTTP status derived from the
gRPC code named by ``kind`` (401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 400
InvalidArgument or FailedPrecondition, 500 Internal, 501/405 Unimplemented). :func:`from_response`
is the only place that reads those bodies. Messages never carry a token or password: the
request body is never quoted, only Boundary's own message and field descriptions.
"""

from __future__ import annotations

from typing import Any

import requests

from soa_sdk.errors import AccessDenied, NotFound, ServiceUnavailable, SoaLabError, ValidationError


class BoundaryError(SoaLabError):
    """A Boundary API call failed. ``status``, ``kind`` and ``endpoint`` say how and where."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: str = "",
        endpoint: str = "",
        fields: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.kind = kind
        self.endpoint = endpoint
        self.fields = dict(fields or {})
        super().__init__(message)


class BoundaryUnauthenticated(BoundaryError, AccessDenied):
    """401: no token, or one that is invalid, expired or logged out."""


class BoundaryPermissionDenied(BoundaryError, AccessDenied):
    """403: a valid token whose grants do not allow the action."""


class BoundaryNotFound(BoundaryError, NotFound):
    """404: the id names nothing (or a stale ``version`` on an update)."""


class BoundaryInvalidRequest(BoundaryError, ValidationError):
    """400: Boundary rejected the request (bad field, or the resource's state forbids it)."""


class BoundaryUnavailable(BoundaryError, ServiceUnavailable):
    """Boundary did not answer (or answered 5xx)."""


_BY_STATUS: dict[int, type[BoundaryError]] = {
    400: BoundaryInvalidRequest,
    401: BoundaryUnauthenticated,
    403: BoundaryPermissionDenied,
    404: BoundaryNotFound,
}

_HINTS = {
    401: "Log in again: the token is missing, expired or was logged out.",
    403: "The user's roles (through their groups) do not grant this action.",
}


def from_response(response: requests.Response, doing: str) -> BoundaryError:
    """The error for a failed Boundary answer, saying what we were ``doing``."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    kind = str(body.get("kind") or "")
    message = str(body.get("message") or response.reason or "no message")
    details = body.get("details") or {}
    fields = {
        str(f.get("name")): str(f.get("description"))
        for f in details.get("request_fields") or []
        if isinstance(f, dict)
    }
    request = response.request
    path = (request.path_url.split("?")[0] if request is not None else "") or ""
    endpoint = f"{request.method if request is not None else ''} {path}".strip()
    text = f"{doing}: Boundary answered {response.status_code} {kind or ''}".rstrip()
    text += f" ({message.rstrip('.')})"
    if fields:
        text += ": " + "; ".join(f"{k}: {v}" for k, v in sorted(fields.items()))
    if response.status_code in _HINTS:
        text += f". {_HINTS[response.status_code]}"
    cls = _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = BoundaryUnavailable if response.status_code >= 500 else BoundaryError
    return cls(text, status=response.status_code, kind=kind, endpoint=endpoint, fields=fields)


def unreachable(url: str, doing: str, error: Exception) -> BoundaryUnavailable:
    """Boundary did not answer at ``url``: the message every service's death gets
    (:func:`soa_sdk.reachability.unavailable`), as a :class:`BoundaryUnavailable`."""
    from soa_sdk.reachability import unavailable

    said = unavailable("boundary", url, error, doing[:1].upper() + doing[1:])
    found = BoundaryUnavailable(str(said), endpoint=url)
    found.service, found.url = said.service, said.url
    return found
