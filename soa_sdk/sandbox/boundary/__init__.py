"""An emulator of HashiCorp Boundary's controller HTTP API (``/v1/...``) for the sandbox.

Built against Boundary's ``internal/gen/controller.swagger.json``: same paths, id prefixes,
JSON fields, ``:action`` suffixes, error bodies and status codes, grant strings, for the
subset the lab uses (``python -m soa_sdk.sandbox.boundary --list-unimplemented`` prints the
rest). Sandbox extensions, all explicit: ``/sandbox/reset``, ``/sandbox/connect`` (the session
proxy real Boundary runs in ``boundary connect`` and its workers) and recording TCP sessions.

Expiring group membership (just-in-time access): Boundary has none, and neither does the
emulator. The SDK grants access by ``:add-members`` and schedules the ``:remove-members``
itself, which works the same on real Boundary.
"""

from .models import BoundaryBackend, Caller
from .proxy import SessionProxy
from .recording import Statement, parse_document, postgres_statements
from .server import BoundaryServer, create_server

__all__ = [
    "BoundaryBackend",
    "BoundaryServer",
    "Caller",
    "SessionProxy",
    "Statement",
    "create_server",
    "parse_document",
    "postgres_statements",
]
