"""WSGI middleware: record every AWS API call as a CloudTrail event; serve LookupEvents.

Recorded: every signed request that resolves to an operation of a botocore service model,
and the unsigned STS calls (`AssumeRoleWithWebIdentity`, `AssumeRoleWithSAML`), successful
or not, except data events (see `record.DATA_EVENTS`) and the sandbox's own routes
(`/moto-api/...`). `LookupEvents` is answered here (moto 5.2 does not implement it), for the
caller's account and Region only, if the caller's identity policies allow
`cloudtrail:LookupEvents` (resource ``*``; checked with the sandbox's authorization,
`soa_sdk.sandbox.aws.authorization.enforce.check_signed`, else `AccessDeniedException`, 400);
it is itself recorded as a read-only event after it has answered, refused or not, as
CloudTrail does. Every other
CloudTrail operation (trails, event selectors...) is served by moto. A cross-account
`AssumeRole` is recorded in the caller's account and in the role's account, as in AWS.
`POST /moto-api/reset` clears the history along with moto's state.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from soa_sdk.sandbox.aws import request as aws_request
from soa_sdk.sandbox.aws.cloudtrail import lookup
from soa_sdk.sandbox.aws.cloudtrail.identity import (
    Caller,
    IdentityResolver,
    other_account,
    root,
    web_identity,
)
from soa_sdk.sandbox.aws.cloudtrail.operations import Operation, OperationResolver
from soa_sdk.sandbox.aws.cloudtrail.record import (
    CallRecord,
    build_event,
    event_region,
    is_management_event,
)
from soa_sdk.sandbox.aws.cloudtrail.store import EventStore
from soa_sdk.sandbox.aws.request import AwsRequest
from soa_sdk.sandbox.aws.tokens import unverified_claims
from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, capture, respond

log = logging.getLogger(__name__)

UNSIGNED_STS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
_ROLE_ACCOUNT = re.compile(r"^arn:[^:]+:iam::(\d{12}):role/")
_JSON_11 = "application/x-amz-json-1.1"
LOOKUP = "LookupEvents"


class CloudTrailMiddleware:
    """Records calls into `store`; answers `LookupEvents` from it."""

    def __init__(
        self,
        app: WSGIApp,
        store: EventStore | None = None,
        operations: OperationResolver | None = None,
        identities: IdentityResolver | None = None,
        observers: tuple[Callable[[CallRecord], None], ...] = (),
    ) -> None:
        """``observers`` are called with every recorded call, after it is recorded and
        before its answer is sent (the scheduling feed, :mod:`soa_sdk.sandbox.aws.scheduling`)."""
        self.app = app
        self.observers = observers
        self.store = store or EventStore()
        self.operations = operations or OperationResolver()
        self.identities = identities or IdentityResolver()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if aws_request.is_internal(environ):
            path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
            if path == "/moto-api/reset" and method == "POST":
                self.store.clear()
                self.identities.reset()
            return self.app(environ, start_response)
        req = aws_request.parse(environ)
        when = datetime.now(UTC).replace(microsecond=0)
        op = self._operation(req)
        if op is None:
            return self.app(environ, start_response)
        if op.service == "cloudtrail" and op.name == LOOKUP:
            return self._lookup(req, op, when, start_response)
        if not is_management_event(op):
            return self.app(environ, start_response)
        caller = self._caller(req, op)
        response = capture(self.app, environ)
        call = CallRecord(req, op, caller, when, event_region(op, req.region), response)
        self._record(call)
        for observe in self.observers:
            try:
                observe(call)
            except Exception:  # an observer must never break the call either
                log.exception("an observer failed on %s", op.name)
        return response.send(start_response)

    def _operation(self, req: AwsRequest) -> Operation | None:
        signing = req.signing_name
        if signing is None:
            if req.action in UNSIGNED_STS:
                signing = req.signing_name = "sts"
            else:
                return None
        try:
            return self.operations.resolve(
                signing, req.method, req.path, req.query, req.headers, req.form
            )
        except Exception:
            log.exception("could not resolve the operation of %s %s", req.method, req.path)
            return None

    def _caller(self, req: AwsRequest, op: Operation) -> Caller:
        if req.access_key_id is None:
            # Unsigned STS: the caller is the token's subject, in the role's account.
            role = _ROLE_ACCOUNT.match(req.param("RoleArn") or "")
            account = role.group(1) if role else self.identities.account_for(None, req.headers)
            claims = unverified_claims(req.param("WebIdentityToken") or "")
            issuer = str(claims.get("iss", "")).removeprefix("https://").removeprefix("http://")
            return web_identity(account, claims, issuer)
        try:
            return self.identities.resolve(req.access_key_id, req.headers)
        except Exception:
            log.exception("could not resolve the caller")
            account = self.identities.account_for(req.access_key_id, req.headers)
            return root(account, req.access_key_id)

    def _record(self, call: CallRecord) -> None:
        # Recording must never break the call it records.
        try:
            self.store.add(build_event(call, self.store.next_seq()))
            self._record_in_role_account(call)
        except Exception:
            log.exception("could not record %s", call.operation.name)

    def _record_in_role_account(self, call: CallRecord) -> None:
        if call.operation.name != "AssumeRole" or call.request.access_key_id is None:
            return
        role = _ROLE_ACCOUNT.match(call.request.param("RoleArn") or "")
        if role is None or role.group(1) == call.caller.account_id:
            return
        event = build_event(
            call,
            self.store.next_seq(),
            account_id=role.group(1),
            user_identity=other_account(call.caller),
            username=None,
        )
        self.store.add(event)

    def _lookup(
        self, req: AwsRequest, op: Operation, when: datetime, start_response: StartResponse
    ) -> Iterable[bytes]:
        # Here, not at the top: authorization imports signing, which imports this package.
        from soa_sdk.sandbox.aws.authorization import enforce

        account = self.identities.account_for(req.access_key_id, req.headers)
        region = req.region or "us-east-1"
        try:
            # Authorized as moto authorizes the actions it serves, before anything is read.
            enforce.check_signed(account, req.method, req.path, req.headers, LOOKUP, req.body)
            parsed = lookup.parse_request(req.body)
            body = lookup.json_body(lookup.lookup(self.store, account, region, parsed))
            status = 200
        except enforce.Denied as denied:
            body, status = enforce.json_body(denied), 400
        except lookup.LookupError_ as err:
            body, status = err.body(), 400
        caller = self._caller(req, op)
        call = CallRecord(req, op, caller, when, region, None)
        if status != 200:
            call.response = _error_capture(body, status)
        self._record(call)
        return respond(start_response, status, body, _JSON_11)


def _error_capture(body: bytes, status: int) -> aws_request.Captured:
    return aws_request.Captured(status=status, status_line=f"{status} Bad Request", body=body)
