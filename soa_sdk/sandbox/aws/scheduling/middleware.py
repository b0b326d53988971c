"""The sandbox's scheduling routes: a change feed of what the scheduler runs from, and the
scheduler's report of what runs.

- ``GET /moto-api/sandbox/compute?after=N&wait=S``: blocks until a change numbered above
  ``N`` (a successful write to ECS, EKS or Auto Scaling in any account, or a reset) or ``S``
  seconds (at most 30) have passed, then answers :func:`.state.snapshot` with the newest
  change's number as ``seq``. A long poll: an idle lab costs nothing, a change is seen at
  once, whoever made it (boto3, Terraform's provider, the console's stand-in).
- ``POST /moto-api/sandbox/ecs-running`` ``{"services": [{account, region, cluster,
  serviceName, running: {task definition ARN: count}}]}``: the scheduler's count of what it
  runs, written into moto's ECS services (:class:`.state.EcsCounts`).

Both are under ``/moto-api``, so the signature middleware lets only requests signed with the
sandbox's root keys through (like moto's own state dump). Neither is an AWS API: on AWS the
ECS scheduler, the EKS node groups and Auto Scaling are AWS's own machinery.

:meth:`ComputeChanges.observe` is called by the CloudTrail middleware for every recorded
call; after an ECS ``CreateService``/``UpdateService`` it writes the reported counts into the
service again, before the answer leaves, so the next ``DescribeServices`` does not see moto's
made-up ``runningCount``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from soa_sdk.sandbox.aws.scheduling.state import EcsCounts, snapshot
from soa_sdk.sandbox.aws.wsgi import Environ, StartResponse, WSGIApp, read_body, respond

if TYPE_CHECKING:
    from soa_sdk.sandbox.aws.cloudtrail.record import CallRecord

FEED_PATH = "/moto-api/sandbox/compute"
REPORT_PATH = "/moto-api/sandbox/ecs-running"
WATCHED = frozenset({"ecs", "eks", "autoscaling"})
MAX_WAIT = 30.0
_RECOUNT = frozenset({"CreateService", "UpdateService", "DeleteService"})


class ComputeChanges:
    """A counter of changes to what the scheduler runs from, that long polls wait on."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.seq = 0
        self.counts = EcsCounts()

    def bump(self) -> None:
        with self._changed:
            self.seq += 1
            self._changed.notify_all()

    def wait(self, after: int, timeout: float) -> int:
        """The newest change's number, once it is above ``after`` or ``timeout`` passed."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq > after, timeout)
            return self.seq

    def observe(self, call: CallRecord) -> None:
        """A recorded AWS call: a successful write to ECS, EKS, Auto Scaling or an EC2 launch
        template (a group on ``$Latest`` launches its new version) is a change."""
        op = call.operation
        launch_template = op.service == "ec2" and "LaunchTemplate" in op.name
        if (op.service not in WATCHED and not launch_template) or op.read_only:
            return
        if call.response is None or call.response.status >= 400:
            return
        if op.service == "ecs" and op.name in _RECOUNT:
            service, cluster = _service_of(call)
            if service:
                region = call.request.region or "us-east-1"
                self.counts.apply(call.caller.account_id, region, cluster, service)
        self.bump()

    def reset(self) -> None:
        self.counts.clear()
        self.bump()


def _service_of(call: CallRecord) -> tuple[str, str]:
    """(service name, cluster name) of an ECS service call's JSON body."""
    try:
        body = json.loads(call.request.body or b"{}")
    except ValueError:
        return "", ""
    service = str(body.get("service") or body.get("serviceName") or "").rsplit("/", 1)[-1]
    cluster = str(body.get("cluster") or "default").rsplit("/", 1)[-1]
    return service, cluster


class SchedulingMiddleware:
    """Serves :data:`FEED_PATH` and :data:`REPORT_PATH`; passes everything else on."""

    def __init__(self, app: WSGIApp, changes: ComputeChanges) -> None:
        self.app = app
        self.changes = changes

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == FEED_PATH and method == "GET":
            return self._feed(environ, start_response)
        if path == REPORT_PATH and method == "POST":
            return self._report(environ, start_response)
        if path == "/moto-api/reset" and method == "POST":
            self.changes.reset()
        return self.app(environ, start_response)

    def _feed(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        try:
            after = int(query.get("after", ["-1"])[-1])
            wait = min(max(float(query.get("wait", ["0"])[-1]), 0.0), MAX_WAIT)
        except ValueError:
            return _error(start_response, "after must be an integer and wait a number")
        seq = self.changes.wait(after, wait)
        body = json.dumps(snapshot(seq), default=str).encode()
        return respond(start_response, 200, body, "application/json")

    def _report(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            services = json.loads(read_body(environ) or b"{}")["services"]
            if not isinstance(services, list):
                raise TypeError
            count = self.changes.counts.report(services)
        except (ValueError, KeyError, TypeError):
            return _error(start_response, 'the body must be {"services": [...]}')
        return respond(
            start_response, 200, json.dumps({"services": count}).encode(), "application/json"
        )


def _error(start_response: StartResponse, message: str) -> Iterable[bytes]:
    return respond(start_response, 400, json.dumps({"error": message}).encode(), "application/json")
