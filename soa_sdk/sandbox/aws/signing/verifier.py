"""Check one request's SigV4 signature with botocore's own signer.

The request is rebuilt as a `botocore.awsrequest.AWSRequest` from what arrived (the raw
request target, the headers named in ``SignedHeaders``, the body), and botocore's
`SigV4Auth` / `S3SigV4Auth` (presigned: `SigV4QueryAuth` / `S3SigV4QueryAuth`) compute the
canonical request, the string to sign and the signature with the secret the sandbox issued.
No signature is computed here by hand, so the check follows exactly what AWS clients sign.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from soa_sdk.sandbox.aws.signing.credentials import ASSUMED_ROLE, Credential, CredentialStore
from soa_sdk.sandbox.aws.signing.errors import AuthFailure, Reason
from soa_sdk.sandbox.aws.wsgi import Environ, read_body

ALGORITHM = "AWS4-HMAC-SHA256"
#: How far X-Amz-Date may be from the server's clock (AWS allows 15 minutes).
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # seven days, as S3 and SigV4 allow
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Signed:
    """The SigV4 parts of a request, from its Authorization header or its presigned query."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    session_token: str | None
    presigned: bool
    expires: int | None = None


def is_signed(environ: Environ) -> bool:
    return bool(environ.get("HTTP_AUTHORIZATION")) or "X-Amz-Signature=" in str(
        environ.get("QUERY_STRING", "")
    )


def signing_name(environ: Environ) -> str | None:
    """The service of the credential scope, if the request carries one (for error shapes)."""
    scope = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=[^/\s]+/\d{8}/[^/]+/([^/]+)/", scope)
    if match is None:
        cred = dict(_query_pairs(str(environ.get("QUERY_STRING", "")))).get("X-Amz-Credential", "")
        parts = cred.split("/")
        return parts[3] if len(parts) == 5 else None
    return match.group(1)


class SignatureVerifier:
    """Verifies requests against a `CredentialStore`; `clock` is seconds since the epoch."""

    def __init__(self, store: CredentialStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def verify(self, environ: Environ) -> Credential:
        """The credential that signed the request; raises `AuthFailure` as AWS would refuse."""
        signed = parse_signature(environ)
        failure = AuthFailure(Reason.UNKNOWN_KEY, access_key_id=signed.access_key_id)
        cred = self.store.find(signed.access_key_id)
        if cred is None:
            raise failure
        if cred.kind == ASSUMED_ROLE:
            if not signed.session_token:
                raise failure
            if not hmac.compare_digest(signed.session_token, cred.session_token or ""):
                raise AuthFailure(Reason.INVALID_TOKEN, access_key_id=signed.access_key_id)
        elif signed.session_token:
            raise AuthFailure(Reason.INVALID_TOKEN, access_key_id=signed.access_key_id)
        now = datetime.fromtimestamp(self.clock(), UTC)
        if cred.expired(now):
            raise AuthFailure(Reason.EXPIRED_TOKEN, access_key_id=signed.access_key_id)
        self._check_time(signed, now)
        self._check_signature(environ, signed, cred)
        return cred

    @staticmethod
    def _check_time(signed: Signed, now: datetime) -> None:
        try:
            when = datetime.strptime(signed.timestamp, _TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            raise AuthFailure(
                Reason.INCOMPLETE,
                f"Date must be in ISO-8601 'basic format'. Got '{signed.timestamp}'.",
            ) from None
        stamp = now.strftime(_TIMESTAMP)
        if when - now > MAX_SKEW:
            raise AuthFailure(
                Reason.SKEWED,
                f"Signature not yet current: {signed.timestamp} is still later than "
                f"{(now + MAX_SKEW).strftime(_TIMESTAMP)} ({stamp} + 15 min.)",
            )
        if signed.presigned:
            if now > when + timedelta(seconds=signed.expires or 0):
                raise AuthFailure(
                    Reason.URL_EXPIRED,
                    f"Signature expired: {signed.timestamp} is now earlier than {stamp}",
                )
        elif now - when > MAX_SKEW:
            raise AuthFailure(
                Reason.SKEWED,
                f"Signature expired: {signed.timestamp} is now earlier than "
                f"{(now - MAX_SKEW).strftime(_TIMESTAMP)} ({stamp} - 15 min.)",
            )

    @staticmethod
    def _check_signature(environ: Environ, signed: Signed, cred: Credential) -> None:
        s3 = signed.service == "s3"
        signer_class: type[SigV4Auth]
        if signed.presigned:
            signer_class = S3SigV4QueryAuth if s3 else SigV4QueryAuth
        else:
            signer_class = S3SigV4Auth if s3 else SigV4Auth
        keys = Credentials(cred.access_key_id, cred.secret_access_key, cred.session_token)
        signer = signer_class(keys, signed.service, signed.region)
        request = rebuild(environ, signed)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        expected = signer.signature(string_to_sign, request)
        if not hmac.compare_digest(expected, signed.signature):
            raise AuthFailure(
                Reason.SIGNATURE,
                access_key_id=signed.access_key_id,
                s3_extra={
                    "StringToSign": string_to_sign,
                    "SignatureProvided": signed.signature,
                    "CanonicalRequest": canonical,
                },
            )
        content_hash = environ.get("HTTP_X_AMZ_CONTENT_SHA256", "")
        if (
            s3
            and _HEX64.fullmatch(content_hash)
            and hashlib.sha256(read_body(environ)).hexdigest() != content_hash
        ):
            raise AuthFailure(Reason.PAYLOAD_MISMATCH, access_key_id=signed.access_key_id)


def parse_signature(environ: Environ) -> Signed:
    """The SigV4 parts of the request; raises `AuthFailure` (MISSING / INCOMPLETE)."""
    auth = str(environ.get("HTTP_AUTHORIZATION", "")).strip()
    if auth:
        return _from_header(environ, auth)
    query = dict(_query_pairs(str(environ.get("QUERY_STRING", ""))))
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
        return _from_query(query)
    raise AuthFailure(Reason.MISSING)


def _from_header(environ: Environ, auth: str) -> Signed:
    algorithm, _, rest = auth.partition(" ")
    if algorithm != ALGORITHM:
        raise AuthFailure(
            Reason.INCOMPLETE,
            "The authorization mechanism you have provided is not supported. "
            f"Please use {ALGORITHM}.",
        )
    fields = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise AuthFailure(
                Reason.INCOMPLETE, f"Authorization header requires '{name}' parameter."
            )
    timestamp = str(environ.get("HTTP_X_AMZ_DATE", ""))
    if not timestamp:
        raise AuthFailure(
            Reason.INCOMPLETE,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    return _signed(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        timestamp,
        environ.get("HTTP_X_AMZ_SECURITY_TOKEN"),
    )


def _from_query(query: dict[str, str]) -> Signed:
    needed = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders",
              "X-Amz-Date", "X-Amz-Expires")  # fmt: skip
    missing = [name for name in needed if not query.get(name)]
    if missing or query["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthFailure(
            Reason.INCOMPLETE,
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
        )
    try:
        expires = int(query["X-Amz-Expires"])
    except ValueError:
        expires = -1
    if not 0 <= expires <= MAX_PRESIGN_EXPIRES:
        raise AuthFailure(
            Reason.INCOMPLETE,
            "X-Amz-Expires must be non-negative and less than a week (in seconds)",
        )
    return _signed(
        query["X-Amz-Credential"],
        query["X-Amz-SignedHeaders"],
        query["X-Amz-Signature"],
        query["X-Amz-Date"],
        query.get("X-Amz-Security-Token"),
        expires=expires,
    )


def _signed(
    credential: str,
    signed_headers: str,
    signature: str,
    timestamp: str,
    session_token: str | None,
    expires: int | None = None,
) -> Signed:
    """The parts, from a header (``expires`` None) or a presigned query; the credential's
    scope must be ``key/date/region/service/aws4_request``."""
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise AuthFailure(
            Reason.INCOMPLETE,
            f"Credential should be scoped to a valid region. Got '{credential}'.",
        )
    return Signed(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(signed_headers.split(";")),
        signature=signature,
        timestamp=timestamp,
        session_token=session_token or None,
        presigned=expires is not None,
        expires=expires,
    )


def rebuild(environ: Environ, signed: Signed) -> AWSRequest:
    """The request as the client signed it: raw path and query, the signed headers, the body."""
    target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if target.startswith(("http://", "https://")):  # an absolute request target
        target = "/" + target.split("/", 3)[-1] if target.count("/") >= 3 else "/"
    if target:
        path, _, raw_query = target.partition("?")
    else:
        path = quote(
            str(environ.get("PATH_INFO", "/")).encode("latin-1").decode("utf-8"), safe="/~"
        )
        raw_query = str(environ.get("QUERY_STRING", ""))
    params = [
        (name, value)
        for name, value in _query_pairs(raw_query)
        if not (signed.presigned and name == "X-Amz-Signature")
    ]
    headers = {name: _header(environ, name) for name in signed.signed_headers}
    host = headers.get("host") or str(environ.get("HTTP_HOST", "localhost"))
    body = b"" if signed.presigned else read_body(environ)
    request = AWSRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")),
        url=f"http://{host}{path or '/'}",
        headers=headers,
        data=body,
        params=params,
    )
    request.context["timestamp"] = signed.timestamp
    if signed.presigned and signed.service != "s3":
        # botocore moved the parameters into the query; there is no body to hash.
        request.data = b""
    return request


def _header(environ: Environ, name: str) -> str:
    if name == "content-type":
        return str(environ.get("CONTENT_TYPE", ""))
    if name == "content-length":
        return str(environ.get("CONTENT_LENGTH", ""))
    return str(environ.get("HTTP_" + name.upper().replace("-", "_"), ""))


def _query_pairs(raw: str) -> list[tuple[str, str]]:
    """Query parameters, percent-decoded (``+`` stays ``+``, as SigV4 encodes spaces as %20)."""
    pairs = []
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs
