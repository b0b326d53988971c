"""The WSGI application: moto's own dispatcher, wrapped by the sandbox's middleware."""

from __future__ import annotations

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from soa_sdk.sandbox.aws.cloudtrail import CloudTrailMiddleware
from soa_sdk.sandbox.aws.compression import DecompressionMiddleware
from soa_sdk.sandbox.aws.health import HealthMiddleware
from soa_sdk.sandbox.aws.web_identity import WebIdentityMiddleware
from soa_sdk.sandbox.aws.wsgi import WSGIApp


def build_moto_app() -> WSGIApp:
    """moto's server application, built exactly as `moto_server` builds it."""
    app = DomainDispatcherApplication(create_backend_app)
    # moto_server sets debug so that backend errors come back as tracebacks, not bare 500s.
    app.debug = True  # type: ignore[attr-defined]
    return app


def build_app() -> WSGIApp:
    """The full sandbox AWS application (outermost middleware first)."""
    app: WSGIApp = build_moto_app()
    # CloudTrail sits outside the token check so that refused web-identity calls are recorded.
    app = WebIdentityMiddleware(app)
    app = CloudTrailMiddleware(app)
    # Outermost, so that every layer (and CloudTrail's requestParameters) sees plain bodies.
    app = DecompressionMiddleware(app)
    return HealthMiddleware(app)
