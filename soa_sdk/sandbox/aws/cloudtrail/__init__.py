"""CloudTrail for the sandbox: every AWS API call recorded as a management event, and
`LookupEvents` to read them back (moto 5.2 records nothing and does not implement it)."""

from soa_sdk.sandbox.aws.cloudtrail.middleware import CloudTrailMiddleware
from soa_sdk.sandbox.aws.cloudtrail.store import Event, EventStore

__all__ = ["CloudTrailMiddleware", "Event", "EventStore"]
