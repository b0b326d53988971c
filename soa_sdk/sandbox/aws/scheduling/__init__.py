"""What the sandbox's scheduler needs from the AWS stand-in: a change feed of ECS services,
EKS node groups and Auto Scaling groups, and honest ECS counts (see :mod:`.middleware`)."""

from soa_sdk.sandbox.aws.scheduling.middleware import (
    FEED_PATH,
    REPORT_PATH,
    ComputeChanges,
    SchedulingMiddleware,
)

__all__ = ["FEED_PATH", "REPORT_PATH", "ComputeChanges", "SchedulingMiddleware"]
