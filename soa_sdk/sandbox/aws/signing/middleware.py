"""WSGI middleware: every request must be signed with credentials the sandbox issued.

Outermost but for the health route: the signature covers the body as sent (compressed,
before `DecompressionMiddleware` inflates it). A refused request reaches neither moto nor
CloudTrail (AWS does not attribute unauthenticated calls to an account either).

Open without a signature, as in AWS: STS `AssumeRoleWithWebIdentity` and
`AssumeRoleWithSAML` (their tokens are the credential; `web_identity` checks them), and the
instance metadata stand-in under ``/latest/`` (only an instance can reach the real one; the
keys moto's stand-in hands out are not issued credentials and are refused). moto's own
``/moto-api/`` routes (dashboard, state dump, reset) are not AWS routes and hold every secret
the sandbox issued: they need a request signed with the sandbox's root keys.
``x-moto-account-id``, moto's header to act in any account, is dropped: the account is the
one the credentials belong to.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from soa_sdk.sandbox.aws.cloudtrail.operations import ServiceModels
from soa_sdk.sandbox.aws.signing.credentials import ROOT, CredentialStore
from soa_sdk.sandbox.aws.signing.errors import AuthFailure, render
from soa_sdk.sandbox.aws.signing.verifier import SignatureVerifier, is_signed, signing_name
from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, read_body, respond

log = logging.getLogger(__name__)

UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
OPEN_PREFIXES = ("/latest/", "/favicon.ico")
ROOT_ONLY_PREFIX = "/moto-api"
_FORM = "application/x-www-form-urlencoded"


class SignatureMiddleware:
    """Refuses what AWS would refuse before a service sees the request."""

    def __init__(
        self,
        app: WSGIApp,
        store: CredentialStore,
        clock: Callable[[], float] | None = None,
        models: ServiceModels | None = None,
    ) -> None:
        self.app = app
        self.verifier = SignatureVerifier(store, clock) if clock else SignatureVerifier(store)
        self.models = models or ServiceModels()
        self._protocols: dict[str, tuple[str, str]] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(ROOT_ONLY_PREFIX):
            return self._root_only(environ, start_response)
        if not path.startswith(OPEN_PREFIXES) and not (
            not is_signed(environ) and _action(environ) in UNSIGNED_ACTIONS
        ):
            try:
                self.verifier.verify(environ)
            except AuthFailure as failure:
                return self._refuse(environ, start_response, failure)
        # Dropped after the check: a client may sign it, moto must not act on it.
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        return self.app(environ, start_response)

    def _root_only(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            cred = self.verifier.verify(environ)
        except AuthFailure:
            cred = None
        if cred is None or cred.kind != ROOT:
            body = b"moto's API needs a request signed with the sandbox's root keys."
            return respond(start_response, 403, body, "text/plain")
        environ.pop("HTTP_X_MOTO_ACCOUNT_ID", None)
        return self.app(environ, start_response)

    def _refuse(
        self, environ: Environ, start_response: StartResponse, failure: AuthFailure
    ) -> Iterable[bytes]:
        protocol, namespace = self.protocol(environ)
        status, headers, body = render(failure, protocol, namespace)
        key = failure.access_key_id
        log.info(
            "%s %s refused: %s (key %s)",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            failure.reason.value,
            f"{key[:4]}..." if key else "none",
        )
        start_response(f"{status} Error", [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def protocol(self, environ: Environ) -> tuple[str, str]:
        """The caller's wire protocol (for the error shape), and the XML namespace if any."""
        if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
            return "smithy-rpc-v2-cbor", ""
        content_type = str(environ.get("CONTENT_TYPE", ""))
        if environ.get("HTTP_X_AMZ_TARGET") or content_type.startswith("application/x-amz-json"):
            return "json", ""
        service = signing_name(environ)
        if service == "s3":
            return "s3", ""
        if service == "ec2":
            return "ec2", ""
        known = self._model_protocol(service) if service else None
        if _action(environ):
            # CloudWatch and SQS speak query too, whatever their model's first protocol is.
            return "query", known[1] if known else ""
        if known is not None:
            return known
        # Unsigned and nothing else to go by: moto dispatches such requests to S3 as well.
        return "s3", ""

    def _model_protocol(self, service: str) -> tuple[str, str] | None:
        if service not in self._protocols:
            try:
                names = self.models.candidates(service)
                meta = self.models.model(names[0]).metadata if names else None
            except Exception:  # an unknown service name: fall back to the request's shape
                meta = None
            if meta is None:
                return None
            protocol = str(meta.get("protocol", "query"))
            namespace = meta.get("xmlNamespace", "")
            namespace = namespace if isinstance(namespace, str) else ""
            self._protocols[service] = (protocol, namespace)
        return self._protocols[service]


def _action(environ: Environ) -> str | None:
    """The query-protocol ``Action`` (form body or query string), read without consuming it."""
    for name, value in parse_qsl(str(environ.get("QUERY_STRING", ""))):
        if name == "Action":
            return value
    if str(environ.get("CONTENT_TYPE", "")).startswith(_FORM):
        body = read_body(environ)
        try:
            if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
                body = gzip.decompress(body)
            form = body.decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError):
            return None
        for name, value in parse_qsl(form):
            if name == "Action":
                return value
    return None
