"""WSGI middleware: STS `AssumeRoleWithWebIdentity` that verifies the token first.

moto issues credentials for any token, even "garbage". Here the call reaches moto only
after `WebIdentityVerifier` has accepted the token for the role; otherwise the caller gets
STS's XML error. Every other request passes through untouched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from soa_sdk.sandbox.aws import request as aws_request
from soa_sdk.sandbox.aws.web_identity.errors import StsError, access_denied
from soa_sdk.sandbox.aws.web_identity.verifier import WebIdentityVerifier
from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, respond

log = logging.getLogger(__name__)
ACTION = "AssumeRoleWithWebIdentity"
_ROLE_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/.+")


class WebIdentityMiddleware:
    """Refuses `AssumeRoleWithWebIdentity` calls whose token AWS would refuse."""

    def __init__(self, app: WSGIApp, verifier: WebIdentityVerifier | None = None) -> None:
        self.app = app
        self.verifier = verifier or WebIdentityVerifier()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if aws_request.is_internal(environ) or environ.get("REQUEST_METHOD") not in ("POST", "GET"):
            return self.app(environ, start_response)
        req = aws_request.parse(environ)
        if req.action != ACTION:
            return self.app(environ, start_response)
        try:
            role = _ROLE_ARN.match(req.param("RoleArn") or "")
            if role is None:
                raise access_denied()
            self.verifier.verify(req.param("WebIdentityToken") or "", role.group(0), role.group(1))
        except StsError as err:
            log.info("AssumeRoleWithWebIdentity refused: %s", err.code)
            return respond(start_response, err.status, err.xml(), "text/xml")
        # The call is answered in the role's account. Without a key moto would look for the
        # caller's account in every account's IAM backend, building each one it has not
        # built yet (its managed policies: seconds per account).
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = role.group(1)
        return self.app(environ, start_response)
