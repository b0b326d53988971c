"""One request at a time into moto's backends.

moto's server answers on threads (werkzeug's threaded server, as ``moto_server`` runs it), but
its backends are plain dicts with no locking: a ``CreateRole`` while ``AttachRolePolicy``
looks a role up (``IAMBackend.get_role`` iterates ``roles``) fails with ``dictionary changed
size during iteration``, a 500 Terraform reports as invalid XML. Terraform applies up to ten
resources at once, so the sandbox's AWS meets this as soon as two folders apply side by side.
:class:`SerializedMiddleware` holds one lock while moto's application computes a response
(moto builds the whole body before it returns, so nothing of a request runs outside the lock).
AWS itself has no such limit; the cost is small here because moto's work is Python under one
interpreter lock anyway: the whole lab took 145.2 s with the lock and 141.6 s without it, one
after the other on a 2-core machine, within the spread of two runs
(``python benchmarks/lab_revisions.py HEAD <a tree without the lock>``). The sandbox's own
layers outside it (signatures, the scheduler's long poll, CloudTrail) are not serialized.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp


class SerializedMiddleware:
    """Call the wrapped application (moto's) under one lock, its response read in full."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            response = self.app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
