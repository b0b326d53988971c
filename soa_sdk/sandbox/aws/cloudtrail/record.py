"""Build the CloudTrail record of one API call.

The record follows CloudTrail's event format (eventVersion 1.09): `userIdentity`,
`eventTime`, `eventSource`, `eventName`, `awsRegion`, `sourceIPAddress`, `userAgent`,
`errorCode`/`errorMessage`, `requestParameters` (secrets hidden), `responseElements`
(null for reads and failures), `requestID`, `eventID`, `readOnly`, `eventType`
`AwsApiCall`, `managementEvent`, `recipientAccountId`, `eventCategory`. Not produced:
`tlsDetails`, `sessionCredentialFromConsole`, `vpcEndpointId`, `additionalEventData`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soa_sdk.sandbox.aws.cloudtrail.identity import Caller
from soa_sdk.sandbox.aws.cloudtrail.operations import Operation
from soa_sdk.sandbox.aws.cloudtrail.params import error_of, request_parameters, response_elements
from soa_sdk.sandbox.aws.cloudtrail.redact import redact
from soa_sdk.sandbox.aws.cloudtrail.resources import resources
from soa_sdk.sandbox.aws.cloudtrail.store import Event
from soa_sdk.sandbox.aws.request import AwsRequest
from soa_sdk.sandbox.aws.wsgi import Captured

EVENT_VERSION = "1.09"
# Services whose events CloudTrail records in us-east-1 whatever Region the client named.
GLOBAL_SERVICES = {"iam", "organizations", "cloudfront", "route53"}
# Data events (and calls CloudTrail does not log as management events): not in event history.
DATA_EVENTS: dict[str, set[str]] = {
    "s3": {
        "GetObject",
        "PutObject",
        "DeleteObject",
        "DeleteObjects",
        "HeadObject",
        "CopyObject",
        "ListObjects",
        "ListObjectsV2",
        "ListObjectVersions",
        "GetObjectAttributes",
        "GetObjectAcl",
        "PutObjectAcl",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
        "ListParts",
        "RestoreObject",
        "SelectObjectContent",
    },
    "lambda": {"Invoke", "InvokeWithResponseStream", "InvokeAsync"},
    "dynamodb": {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
    },
    "sqs": {"SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage"},
    "logs": {"PutLogEvents", "GetLogEvents", "FilterLogEvents"},
    "cloudwatch": {"PutMetricData", "GetMetricData", "GetMetricStatistics"},
}
_REQUEST_ID = re.compile(rb"<RequestId>([^<]+)</RequestId>")


def is_management_event(op: Operation) -> bool:
    return op.name not in DATA_EVENTS.get(op.service, set())


def event_region(op: Operation, request_region: str | None) -> str:
    if op.service in GLOBAL_SERVICES:
        return "us-east-1"
    return request_region or "us-east-1"


@dataclass
class CallRecord:
    """What is known about one served call, ready to become events."""

    request: AwsRequest
    operation: Operation
    caller: Caller
    time: datetime
    region: str
    response: Captured | None  # None: answered by the sandbox itself (LookupEvents)
    response_body_override: bytes | None = None

    def request_parameters(self) -> dict[str, Any] | None:
        req, op = self.request, self.operation
        params = request_parameters(
            op.protocol, op.service, req.body, req.content_type, req.query, req.form, op.path_params
        )
        return redact(params) if params else None

    def error(self) -> tuple[str | None, str | None]:
        if self.response is None or self.response.status < 400:
            return None, None
        headers = {k.lower(): v for k, v in self.response.headers}
        code, message = error_of(self.response.body, headers)
        return code or f"Http{self.response.status}", message

    def response_elements(self) -> dict[str, Any] | None:
        if self.operation.read_only or self.response is None or self.response.status >= 400:
            return None
        elements = response_elements(
            self.operation.protocol, self.response.body, self.response.header("content-type") or ""
        )
        return redact(elements, keep_credentials_shape=True) if elements else None

    def request_id(self) -> str:
        if self.response is not None:
            for name in ("x-amzn-requestid", "x-amz-request-id"):
                value = self.response.header(name)
                if value:
                    return value
            m = _REQUEST_ID.search(self.response.body[:4096])
            if m:
                return m.group(1).decode("ascii", "replace")
        return str(uuid.uuid4())


def build_event(
    call: CallRecord,
    seq: int,
    account_id: str | None = None,
    user_identity: dict[str, Any] | None = None,
    username: str | None = "",
) -> Event:
    """The event as stored; `account_id`/`user_identity` override for a cross-account copy."""
    op, req, caller = call.operation, call.request, call.caller
    account = account_id or caller.account_id
    event_id = str(uuid.uuid4())
    source = f"{req.signing_name or 'sts'}.amazonaws.com"
    params = call.request_parameters()
    elements = call.response_elements()
    code, message = call.error()
    when = call.time.replace(microsecond=0)  # CloudTrail's event times are whole seconds
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity or caller.user_identity(),
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": op.name,
        "awsRegion": call.region,
        "sourceIPAddress": req.source_ip,
        "userAgent": req.user_agent,
    }
    if code:
        record["errorCode"] = code
        if message:
            record["errorMessage"] = message
    record.update(
        {
            "requestParameters": params,
            "responseElements": elements,
            "requestID": call.request_id(),
            "eventID": event_id,
            "readOnly": op.read_only,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
    )
    found = resources(op.service, params, elements)
    return Event(
        seq=seq,
        event_id=event_id,
        account_id=account,
        region=call.region,
        time=when,
        name=op.name,
        source=source,
        read_only=op.read_only,
        username=caller.username if username == "" else username,
        access_key_id=caller.access_key_id if user_identity is None else None,
        resources=tuple((r["ResourceType"], r["ResourceName"]) for r in found),
        cloudtrail_event=json.dumps(record, default=str, separators=(",", ":")),
    )
