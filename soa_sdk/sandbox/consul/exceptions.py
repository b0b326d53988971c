"""Consul HTTP API errors, one class per error, each with its HTTP status and Consul's text.

Consul's HTTP layer (``agent/http.go``) answers errors as ``text/plain``:

* ACL errors (``acl.PermissionDeniedError``, "ACL not found") -> 403 with ``err.Error()``;
* ``BadRequestError`` -> 400 ``"Bad request: <reason>"``;
* ``HTTPError{StatusCode, Reason}`` -> that status with the reason alone (no prefix);
* ``NotFoundError`` / ``HTTPError{404}`` -> 404 with the reason;
* ``MethodNotAllowedError`` -> 405 ``"method GET not allowed"`` plus an ``Allow`` header;
* anything an RPC returns (config entry validation, discovery chain compile errors) -> 500 with
  the error text, e.g. ``the sum of all split weights must be 100, not 90.000000``.
"""

from __future__ import annotations

from typing import ClassVar

ANONYMOUS_ACCESSOR_ID = "00000000-0000-0000-0000-000000000002"


class ConsulError(Exception):
    """Base class: ``code`` is the HTTP status, ``str(self)`` the body Consul sends."""

    code = 500
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(ConsulError):
    """400, ``Bad request: <reason>`` (agent/http.go ``BadRequestError``)."""

    code = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"Bad request: {reason}")
        self.reason = reason


class HTTPError(ConsulError):
    """``HTTPError{StatusCode, Reason}`` of ``agent/http.go``: the status, the reason alone.

    Consul's handlers use it where ``BadRequestError`` would add ``Bad request:``, e.g.
    400 ``Target service must be specified`` from ``/v1/agent/connect/authorize``.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class RequestDecodeFailed(BadRequest):
    """400 for a body that is not valid JSON (or not the expected shape).

    Consul spells it ``Request decode failed`` on agent/catalog endpoints and
    ``Request decoding failed`` on ``PUT /v1/config``; ``spelling`` picks which.
    """

    def __init__(self, detail: str, spelling: str = "Request decode failed") -> None:
        super().__init__(f"{spelling}: {detail}")


class PermissionDenied(ConsulError):
    """403, the text of ``acl.PermissionDeniedError``.

    ``Permission denied: token with AccessorID '<id>' lacks permission 'service:write' on "web"``;
    for the anonymous token Consul adds a sentence saying the token was used implicitly.
    """

    code = 403

    def __init__(
        self,
        accessor_id: str | None = None,
        resource: str | None = None,
        level: str | None = None,
        name: str | None = None,
        cause: str | None = None,
    ) -> None:
        message = "Permission denied"
        if cause:
            message += f": {cause}"
        elif resource:
            if accessor_id == ANONYMOUS_ACCESSOR_ID:
                message += ": anonymous token"
            else:
                message += f": token with AccessorID '{accessor_id}'"
            message += f" lacks permission '{resource}:{level}'"
            if name is not None and name != "":
                message += f' on "{name}"'
            if accessor_id == ANONYMOUS_ACCESSOR_ID:
                message += (
                    ". The anonymous token is used implicitly when a request does not specify"
                    " a token."
                )
        super().__init__(message)


class ACLNotFound(ConsulError):
    """403 ``ACL not found``: the request carried a token that does not exist."""

    code = 403

    def __init__(self) -> None:
        super().__init__("ACL not found")


class ACLDisabled(ConsulError):
    """401 ``ACL support disabled`` from the /v1/acl endpoints when ACLs are off."""

    code = 401

    def __init__(self) -> None:
        super().__init__("ACL support disabled")


class NotFound(ConsulError):
    """404 with a reason (``Config entry not found for "kind" / "name"``, ...)."""

    code = 404


class PageNotFound(NotFound):
    """404 from Go's mux for a path no handler serves."""

    def __init__(self) -> None:
        super().__init__("404 page not found")


class MethodNotAllowed(ConsulError):
    """405 ``method PATCH not allowed`` with the ``Allow`` header."""

    code = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"method {method} not allowed")
        self.headers = {"Allow": ",".join(allowed)}


class RPCError(ConsulError):
    """500: an error returned by a server RPC, passed through verbatim (validation errors)."""

    code = 500


class NoPathToDatacenter(RPCError):
    """500 ``No path to datacenter`` for a ``dc`` this cluster does not know."""

    def __init__(self) -> None:
        super().__init__("No path to datacenter")


class ValueTooLarge(ConsulError):
    """413 from ``PUT /v1/kv`` for a value above the 512 KiB limit."""

    code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body(truncated): too large; Value exceeds {limit} byte limit")


class FilterError(BadRequest):
    """400 for a bad ``filter`` expression (``Failed to create boolean expression evaluator``)."""

    def __init__(self, detail: str) -> None:
        ConsulError.__init__(self, f"Failed to create boolean expression evaluator: {detail}")
        self.reason = detail
