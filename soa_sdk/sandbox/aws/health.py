"""A health route for the sandbox's own process supervisor.

moto's own routes (`/moto-api/` dashboard, `/moto-api/data.json`, `/moto-api/reset`, ...)
are served by moto unchanged; this adds `GET /moto-api/health` (not a moto route) that
answers 200 without touching any backend, so a supervisor can poll it cheaply.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, respond

HEALTH_PATH = "/moto-api/health"


class HealthMiddleware:
    """Answers `GET /moto-api/health` with `{"status": "ok"}`; passes everything else on."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") in (
            "GET",
            "HEAD",
        ):
            body = json.dumps({"status": "ok", "service": "aws"}).encode()
            return respond(start_response, 200, body, "application/json")
        return self.app(environ, start_response)
