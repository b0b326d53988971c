"""Boundary API errors, one class per error the emulator returns.

Boundary answers every failure with the body of ``controller.api.v1.Error``
(``{"kind": ..., "message": ..., "details": {"request_fields": [{"name", "description"}]}}``)
and an HTTP status derived from the gRPC code named by ``kind``
(``internal/daemon/controller/handlers/errors.go`` in hashicorp/boundary). The messages
below are Boundary's own where Boundary has a fixed one.
"""

from __future__ import annotations

from typing import Any


class BoundaryError(Exception):
    """Base class: an API error with its HTTP status and Boundary's error body."""

    status: int = 500
    kind: str = "Internal"

    def __init__(self, message: str, request_fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_fields = dict(request_fields or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.request_fields:
            # Boundary sorts the field errors by name (InvalidArgumentErrorf).
            body["details"] = {
                "request_fields": [
                    {"name": k, "description": v} for k, v in sorted(self.request_fields.items())
                ]
            }
        return body


class InvalidArgument(BoundaryError):
    """400: bad input. Boundary's message is usually "Errors in provided fields."."""

    status = 400
    kind = "InvalidArgument"

    def __init__(
        self,
        message: str = "Errors in provided fields.",
        request_fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, request_fields)


class FailedPrecondition(BoundaryError):
    """400: the request is well formed but the resource's state forbids it."""

    status = 400
    kind = "FailedPrecondition"


class Unauthenticated(BoundaryError):
    """401: no token, or an invalid one, for an action the anonymous user may not do."""

    status = 401
    kind = "Unauthenticated"

    def __init__(self, message: str = "Unauthenticated, or invalid token.") -> None:
        super().__init__(message)


class PermissionDenied(BoundaryError):
    """403: a valid token whose grants do not allow the action."""

    status = 403
    kind = "PermissionDenied"

    def __init__(self, message: str = "Forbidden.") -> None:
        super().__init__(message)


class NotFound(BoundaryError):
    """404: a well-formed id that names nothing, or an unknown path."""

    status = 404
    kind = "NotFound"

    def __init__(self, message: str = "Resource not found.") -> None:
        super().__init__(message)


class MethodNotAllowed(BoundaryError):
    """405: Boundary answers an unimplemented method or custom action with kind Unimplemented."""

    status = 405
    kind = "Unimplemented"


class Internal(BoundaryError):
    """500: Boundary's answer to, among others, a stale ``version`` on membership actions."""

    status = 500
    kind = "Internal"


class NotImplementedInSandbox(BoundaryError):
    """501: an operation real Boundary has but this emulator does not (see --list-unimplemented)."""

    status = 501
    kind = "Unimplemented"
