"""The sandbox's replacement for moto's authorization hook (see the package docstring)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from moto.core.exceptions import AccessDeniedError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from soa_sdk.sandbox.aws.authorization import bucket_policy
from soa_sdk.sandbox.aws.authorization.bootstrap import ensure_users

#: Open without a signature (`soa_sdk.sandbox.aws.signing.middleware.UNSIGNED_ACTIONS`): the
#: token in the request is the credential, and STS needs no identity policy to accept it.
UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})


def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    """`ActionAuthenticatorMixin._authenticate_and_authorize_action`, on a moto response
    object (``self``): raises moto's `AccessDenied` for the protocol unless allowed."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest

    if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return
    ensure_users()
    action = self._get_action()
    headers = _signed_headers(self)
    if headers is None:
        if action in UNSIGNED_ACTIONS:
            return
        # SignatureMiddleware lets nothing else through unsigned; refuse if it ever did.
        headers = Headers([("Authorization", "AWS4-HMAC-SHA256 Credential=/us-east-1/-/")])
    path = self.uri.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    request = iam_request_cls(
        account_id=self.current_account,
        method=self.method,
        path=path,
        data=self.data,
        body=self.raw_body,
        headers=headers,
        action=action,
    )
    # No request.check_signature(): SignatureMiddleware verified it with the sandbox's keys.
    if iam_request_cls is S3IAMRequest:
        # moto's S3 errors are S3's own (<Error><Code>AccessDenied</Code>..., 403).
        if bucket_policy.applies(resource):
            bucket_policy.check(request, resource)
        else:
            request.check_action_permitted(resource)
        return
    try:
        _check(request, resource)
    except Denied as denied:
        raise Refusal(_protocol(self), denied) from None


class Denied(Exception):
    """The caller's identity policies do not allow ``action`` on ``resource``."""

    def __init__(self, principal: str, action: str, resource: str) -> None:
        on = f" on resource: {resource}" if resource != "*" else ""
        self.message = (
            f"User: {principal} is not authorized to perform: {action}{on} "
            f"because no identity-based policy allows the {action} action"
        )
        super().__init__(self.message)


def _check(request: Any, resource: str) -> None:
    """moto's policy engine on one `IAMRequest`: raises `Denied` unless allowed."""
    try:
        request.check_action_permitted(resource)
    except AccessDeniedError:
        raise Denied(request._access_key.arn, request._action, resource) from None


def check_signed(
    account_id: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    action: str,
    body: bytes = b"",
    resource: str = "*",
) -> None:
    """Raises `Denied` unless the identity policies of the request's signer allow ``action``
    (the operation's name, ``LookupEvents``; moto prefixes the service of the signature's
    credential scope, ``cloudtrail:LookupEvents``) on ``resource``.

    For requests moto does not serve, such as CloudTrail's `LookupEvents`
    (`soa_sdk.sandbox.aws.cloudtrail.middleware`): the same check `authorize` makes, on a
    request `SignatureMiddleware` has verified. Only ``Authorization`` header signatures are
    read: a query-string signature (which no SDK uses for these JSON calls) is refused.
    """
    from moto.iam.access_control import IAMRequest

    ensure_users()
    signed = Headers(list(headers.items()))
    if not signed.get("Authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
        raise Denied("anonymous", action, resource)
    request = IAMRequest(
        account_id=account_id,
        method=method,
        path=path,
        data={},
        body=body,
        headers=signed,
        action=action,
    )
    _check(request, resource)


class Refusal(HTTPException):
    """AccessDenied as the service's protocol writes it (moto writes EC2's XML for all).

    query (IAM, STS, ...): ``<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied``, 403;
    ec2: ``<Response><Errors><Error><Code>UnauthorizedOperation``, 403; json (Organizations,
    ECS, ...): ``{"__type": "AccessDeniedException", "Message": ...}``, 400; rest-json (EKS):
    the same body, 403. The message is IAM's: ``User: ARN is not authorized to perform:
    ACTION [on resource: ARN] because no identity-based policy allows the ACTION action``.
    """

    def __init__(self, protocol: str, denied: Denied) -> None:
        message = denied.message
        request_id = str(uuid.uuid4())
        if protocol in ("json", "rest-json"):
            body = json_body(denied).decode()
            code = 400 if protocol == "json" else 403
        elif protocol == "ec2":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                "<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform "
                f"this operation. {escape(message)}</Message></Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>"
            )
            code = 403
        else:
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
            code = 403
        super().__init__(description=body)
        self.code = code


def json_body(denied: Denied) -> bytes:
    """The JSON protocols' refusal: ``{"__type": "AccessDeniedException", "Message": ...}``."""
    return json.dumps({"__type": "AccessDeniedException", "Message": denied.message}).encode()


def _protocol(response: Any) -> str:
    """The caller's wire protocol, from what moto parsed of the request."""
    headers = response.headers
    if headers.get("X-Amz-Target") or str(headers.get("Content-Type", "")).startswith(
        "application/x-amz-json"
    ):
        return "json"
    if response.service_name == "ec2":
        return "ec2"
    if "Action" in response.querystring:
        return "query"
    return "rest-json"


def _signed_headers(response: Any) -> Headers | None:
    """The request's headers, with a presigned URL's credential moved where moto reads it."""
    headers = Headers(list(response.headers.items()))
    if headers.get("Authorization"):
        return headers
    query = response.querystring
    credential = (query.get("X-Amz-Credential") or [""])[0]
    if not credential:
        return None
    headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host"
    token = (query.get("X-Amz-Security-Token") or [""])[0]
    if token:
        headers["X-Amz-Security-Token"] = token
    return headers


def check_principal(self: Any, principal: str) -> bool:
    """`IAMPolicyStatement._check_principal` for trust policies: ``"*"``, the principal's own
    ARN, or its account (``arn:aws:iam::ACCOUNT:root`` or ``ACCOUNT``), as AWS matches them.
    A role's ARN matches the role's sessions (``arn:aws:sts::A:assumed-role/ROLE/...``)."""
    expected = self._statement.get("Principal")
    if not expected:
        return True
    if expected == "*":
        return True
    names = expected.get("AWS") if isinstance(expected, dict) else None
    if names is None:
        return False
    return bucket_policy.principal_matches(names, principal)
