"""Authentication refusals, written as AWS writes them in each wire protocol.

One `AuthFailure` names what is wrong (`Reason`); `render()` turns it into the status,
headers and body of the caller's protocol:

- `query` (STS, IAM, ELBv2, ...) and non-S3 `rest-xml` (CloudFront, Route 53):
  ``<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>...``, 403;
- `ec2`: ``<Response><Errors><Error><Code>AuthFailure</Code>...``, 401;
- `json` (Organizations, ECS, Logs, CloudTrail, ...): ``{"__type": "UnrecognizedClientException",
  "message": ...}``, 400; `rest-json` (EKS, ...): the code in ``x-amzn-ErrorType``, 403;
  `smithy-rpc-v2-cbor` (CloudWatch): the JSON shape encoded as CBOR, 400;
- S3: ``<Error><Code>InvalidAccessKeyId</Code>...<AWSAccessKeyId>...`` (403), ``ExpiredToken``
  (400), ``SignatureDoesNotMatch`` with the ``StringToSign`` S3 shows (403), anonymous
  requests ``AccessDenied`` (403).
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass, field
from xml.sax.saxutils import escape


class Reason(enum.Enum):
    MISSING = "missing"  # no Authorization header, no presigned query
    INCOMPLETE = "incomplete"  # malformed Authorization / presigned parameters
    UNKNOWN_KEY = "unknown_key"  # an access key the sandbox never issued
    INVALID_TOKEN = "invalid_token"  # wrong or unexpected session token
    SIGNATURE = "signature"  # the secret does not match
    EXPIRED_TOKEN = "expired_token"  # STS keys past their expiry
    SKEWED = "skewed"  # X-Amz-Date more than 15 minutes from now
    URL_EXPIRED = "url_expired"  # a presigned URL past X-Amz-Expires
    PAYLOAD_MISMATCH = "payload_mismatch"  # S3 body does not hash to x-amz-content-sha256


@dataclass
class AuthFailure(Exception):
    reason: Reason
    detail: str = ""
    access_key_id: str = ""
    s3_extra: dict[str, str] = field(default_factory=dict)  # StringToSign, ... for S3


SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."
EXPIRED_MESSAGE = "The security token included in the request is expired"

# (code, status, default message) for query / rest-xml services.
_QUERY: dict[Reason, tuple[str, int, str]] = {
    Reason.MISSING: ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    Reason.INCOMPLETE: ("IncompleteSignature", 403, "The request signature is incomplete."),
    Reason.UNKNOWN_KEY: ("InvalidClientTokenId", 403, INVALID_TOKEN_MESSAGE),
    Reason.INVALID_TOKEN: ("InvalidClientTokenId", 403, INVALID_TOKEN_MESSAGE),
    Reason.SIGNATURE: ("SignatureDoesNotMatch", 403, SIGNATURE_MESSAGE),
    Reason.EXPIRED_TOKEN: ("ExpiredToken", 403, EXPIRED_MESSAGE),
    Reason.SKEWED: ("SignatureDoesNotMatch", 403, "Signature expired"),
    Reason.URL_EXPIRED: ("SignatureDoesNotMatch", 403, "Signature expired"),
    Reason.PAYLOAD_MISMATCH: ("SignatureDoesNotMatch", 403, SIGNATURE_MESSAGE),
}
_JSON: dict[Reason, tuple[str, str]] = {
    Reason.MISSING: ("MissingAuthenticationTokenException", "Missing Authentication Token"),
    Reason.INCOMPLETE: ("IncompleteSignatureException", "The request signature is incomplete."),
    Reason.UNKNOWN_KEY: ("UnrecognizedClientException", INVALID_TOKEN_MESSAGE),
    Reason.INVALID_TOKEN: ("UnrecognizedClientException", INVALID_TOKEN_MESSAGE),
    Reason.SIGNATURE: ("InvalidSignatureException", SIGNATURE_MESSAGE),
    Reason.EXPIRED_TOKEN: ("ExpiredTokenException", EXPIRED_MESSAGE),
    Reason.SKEWED: ("InvalidSignatureException", "Signature expired"),
    Reason.URL_EXPIRED: ("InvalidSignatureException", "Signature expired"),
    Reason.PAYLOAD_MISMATCH: ("InvalidSignatureException", SIGNATURE_MESSAGE),
}
_EC2_AUTH = ("AuthFailure", 401, "AWS was not able to validate the provided access credentials")
_EC2: dict[Reason, tuple[str, int, str]] = {
    **{reason: _EC2_AUTH for reason in Reason},
    Reason.EXPIRED_TOKEN: ("RequestExpired", 400, "Request has expired."),
    Reason.URL_EXPIRED: ("RequestExpired", 400, "Request has expired."),
}
_S3: dict[Reason, tuple[str, int, str]] = {
    Reason.MISSING: ("AccessDenied", 403, "Access Denied"),
    Reason.INCOMPLETE: (
        "AuthorizationHeaderMalformed",
        400,
        "The authorization header is malformed.",
    ),
    Reason.UNKNOWN_KEY: (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    ),
    Reason.INVALID_TOKEN: (
        "InvalidToken",
        400,
        "The provided token is malformed or otherwise invalid.",
    ),
    Reason.SIGNATURE: (
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    Reason.EXPIRED_TOKEN: ("ExpiredToken", 400, "The provided token has expired."),
    Reason.SKEWED: (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large.",
    ),
    Reason.URL_EXPIRED: ("AccessDenied", 403, "Request has expired"),
    Reason.PAYLOAD_MISMATCH: (
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
}

Response = tuple[int, list[tuple[str, str]], bytes]


def render(failure: AuthFailure, protocol: str, xml_namespace: str = "") -> Response:
    """The response AWS sends for `failure` to a caller speaking `protocol`."""
    request_id = str(uuid.uuid4())
    rid = [("x-amzn-RequestId", request_id)]
    if protocol == "s3":
        code, status, message = _S3[failure.reason]
        if failure.reason is Reason.INCOMPLETE and failure.detail:
            message = failure.detail
        extra = dict(failure.s3_extra)
        if failure.access_key_id and failure.reason in (
            Reason.UNKNOWN_KEY,
            Reason.SIGNATURE,
        ):
            extra = {"AWSAccessKeyId": failure.access_key_id, **extra}
        inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{inner}"
            f"<RequestId>{request_id[:16].upper()}</RequestId>"
            f"<HostId>{uuid.uuid4().hex}</HostId></Error>"
        ).encode()
        return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if protocol == "ec2":
        code, status, message = _EC2[failure.reason]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return status, [("Content-Type", "text/xml;charset=UTF-8")], body
    if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor"):
        code, message = _JSON[failure.reason]
        message = _detailed(failure, message)
        if protocol == "rest-json":
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), *rid]
            return 403, headers, json.dumps({"message": message}).encode()
        if protocol == "smithy-rpc-v2-cbor":
            headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
            return 400, [*headers, *rid], _cbor_map({"__type": code, "message": message})
        headers = [("Content-Type", "application/x-amz-json-1.1"), *rid]
        return 400, headers, json.dumps({"__type": code, "message": message}).encode()
    code, status, message = _QUERY[failure.reason]
    message = _detailed(failure, message)
    ns = f' xmlns="{escape(xml_namespace)}"' if xml_namespace else ""
    body = (
        f"<ErrorResponse{ns}><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml"), *rid], body


def _detailed(failure: AuthFailure, message: str) -> str:
    if failure.reason in (Reason.INCOMPLETE, Reason.SKEWED, Reason.URL_EXPIRED) and failure.detail:
        return failure.detail
    return message


def _cbor_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949 major types 5 and 3), all an error body needs."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        if n < 0x100:
            return bytes([major << 5 | 24, n])
        if n < 0x10000:
            return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
        return bytes([major << 5 | 26]) + n.to_bytes(4, "big")

    out = bytearray(head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return bytes(out)
