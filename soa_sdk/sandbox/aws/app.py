"""The WSGI application: moto's own dispatcher, wrapped by the sandbox's middleware."""

from __future__ import annotations

from collections.abc import Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from soa_sdk.sandbox.aws.authorization import install as install_authorization
from soa_sdk.sandbox.aws.cloudfront_policies import (
    CloudFrontPoliciesMiddleware,
    keep_origin_access_control,
)
from soa_sdk.sandbox.aws.cloudtrail import CloudTrailMiddleware
from soa_sdk.sandbox.aws.compression import DecompressionMiddleware
from soa_sdk.sandbox.aws.health import HealthMiddleware
from soa_sdk.sandbox.aws.scheduling import ComputeChanges, SchedulingMiddleware
from soa_sdk.sandbox.aws.serialized import SerializedMiddleware
from soa_sdk.sandbox.aws.signing import CredentialStore, RootKeys, SignatureMiddleware
from soa_sdk.sandbox.aws.web_identity import WebIdentityMiddleware
from soa_sdk.sandbox.aws.wsgi import WSGIApp


def build_moto_app() -> WSGIApp:
    """moto's server application, built exactly as `moto_server` builds it."""
    app = DomainDispatcherApplication(create_backend_app)
    # moto_server sets debug so that backend errors come back as tracebacks, not bare 500s.
    app.debug = True  # type: ignore[attr-defined]
    return app


def build_app(root: RootKeys | None = None, clock: Callable[[], float] | None = None) -> WSGIApp:
    """The full sandbox AWS application (outermost middleware first).

    ``root`` are the sandbox's root keys (default: from the environment, see
    `soa_sdk.sandbox.aws.signing.credentials.ROOT_KEY_ENV`); without them only keys that
    IAM or STS issue are accepted, and nothing can issue any. ``clock`` (seconds since the
    epoch) is for tests of expiry.
    """
    root = root or RootKeys.from_environment()
    # IAM policies enforced from the first request, the sandbox's users created.
    install_authorization(root)
    # moto's backends are not thread-safe: one request at a time into them.
    app: WSGIApp = SerializedMiddleware(build_moto_app())
    # CloudFront: the policy APIs moto lacks, and the origin access control moto drops.
    keep_origin_access_control()
    app = CloudFrontPoliciesMiddleware(app)
    # CloudTrail sits outside the token check so that refused web-identity calls are recorded.
    app = WebIdentityMiddleware(app)
    changes = ComputeChanges()
    app = CloudTrailMiddleware(app, observers=(changes.observe,))
    # The scheduler's feed and report (root-only: /moto-api/, see the signature middleware).
    app = SchedulingMiddleware(app, changes)
    # Outermost, so that every layer (and CloudTrail's requestParameters) sees plain bodies.
    app = DecompressionMiddleware(app)
    # Outside decompression: the signature covers the body as it was sent.
    store = CredentialStore(root)
    app = SignatureMiddleware(app, store, clock)
    return HealthMiddleware(app)
