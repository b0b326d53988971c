"""Management: scale a service, stop or break an instance, and send traffic to watch the
mesh react.

Scaling, real API, through the runtime account's own session: on ECS ``UpdateService``
(``desiredCount``) on the service of that version in the runtime's cluster; ECS then starts or
stops tasks, and Consul's ECS integration registers or deregisters them. On EC2, EC2 Auto
Scaling's ``UpdateAutoScalingGroup`` on the group Terraform made for that version (found by its
``Service`` and ``Version`` tags): ``DesiredCapacity``, with ``MinSize`` / ``MaxSize`` widened
to take it, as ``aws autoscaling update-auto-scaling-group`` does; the group launches or
terminates instances, whose Consul agents register or deregister them. In the sandbox the
sandbox's scheduler does ECS's and Auto Scaling's part (it starts or stops the workload host's
instances to match), and the call waits until that many run and pass in Consul. Both are a
drift from what Terraform applied, which the next apply of the runtime's folder (step 1's
``create``) puts back. EKS (a Deployment's replicas, through the Kubernetes API, which the
sandbox does not serve) is scaled in the sandbox only, on the workload host.

Stopping an instance: ECS ``StopTask`` on AWS; the workload host in the sandbox. Breaking one
(its health check answers 500, the process keeps running) exists in the sandbox only.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from soa_sdk import progress, validate
from soa_sdk.errors import NotFound, ServiceUnavailable, ValidationError
from soa_sdk.observe.context import Context, Runtime
from soa_sdk.reachability import ingress_service, unavailable
from soa_sdk.runtime.compute import workload_name
from soa_sdk.runtime.workloads import READY_TIMEOUT, wait_ecs_stable, wait_passing
from soa_sdk.tables import Table

MAX_REPLICAS = 10
MAX_REQUESTS = 20_000
MAX_CONCURRENCY = 64


def _natural(key: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def instances(ctx: Context, runtime: Runtime, service: str) -> list[dict[str, Any]]:
    """The sandbox workloads of ``service`` in ``runtime``, in a stable order (by id)."""
    found = [
        w
        for w in ctx.workloads.list(service)
        if w.get("runtime") == runtime.name and w["name"] == service
    ]
    return sorted(found, key=lambda w: _natural(w["id"]))


def pick(ctx: Context, runtime: Runtime, service: str, index: int) -> dict[str, Any]:
    validate.whole(index, "index (an instance number)", 0)
    runtime.spec.service(service)  # NotFound for a service the runtime does not run
    found = instances(ctx, runtime, service)
    if index >= len(found):
        ids = ", ".join(f"{i}: {w['id']}" for i, w in enumerate(found)) or "none"
        raise ValidationError(
            f"{service} in {runtime.name} has no instance number {index!r} (its instances are "
            f"{ids})."
        )
    return found[index]


# -- scale ----------------------------------------------------------------------------------
def scale(ctx: Context, runtime: Runtime, service: str, version: str, replicas: int) -> dict:
    """Set the number of instances of ``service`` ``version``; returns what changed."""
    validate.whole(replicas, "replicas", 0, MAX_REPLICAS)
    declared = runtime.spec.service(service)
    if version not in declared.versions:
        raise ValidationError(
            f"{service} has no version {version!r} in {runtime.name} (its versions are "
            f"{', '.join(declared.versions)})."
        )
    sandbox = ctx.sandbox is not None
    if not sandbox and runtime.spec.kind == "eks":
        raise ValidationError(
            f"{runtime.name} runs on EKS: scale its Deployment with kubectl scale; the SDK "
            "scales ECS services and EC2 Auto Scaling groups."
        )
    result: dict[str, Any] = {"service": service, "version": version, "replicas": replicas}
    if runtime.spec.kind == "ec2":
        result.update(_scale_group(ctx, runtime, service, version, replicas))
        return result
    if runtime.spec.kind != "ecs":
        result.update(_scale_workloads(ctx, runtime, service, version, replicas))
        return result
    ecs = ctx.client(runtime.account, "ecs", runtime.region)
    name = workload_name(runtime.spec, declared, version)
    before = {w["id"] for w in instances(ctx, runtime, service)} if sandbox else set()
    reply = ecs.update_service(cluster=runtime.name, service=name, desiredCount=replicas)
    result["ecs_service"] = reply["service"]["serviceArn"]
    if sandbox:  # the sandbox's scheduler starts or stops the service's tasks
        wait_ecs_stable(ecs, runtime.name, [name])
        wait_passing(ctx.consul, service, runtime.partition, version, replicas)
        after = {w["id"] for w in instances(ctx, runtime, service)}
        result["started"] = sorted(after - before, key=_natural)
        result["stopped"] = sorted(before - after, key=_natural)
    return result


def _scale_group(
    ctx: Context, runtime: Runtime, service: str, version: str, replicas: int
) -> dict[str, Any]:
    """``UpdateAutoScalingGroup`` of the version's group; in the sandbox, wait for its
    instances (the scheduler's) to be ``replicas`` and pass."""
    autoscaling = ctx.client(runtime.account, "autoscaling", runtime.region)
    group = _group_of(autoscaling, runtime, service, version)
    name = group["AutoScalingGroupName"]
    sandbox = ctx.sandbox is not None

    def running() -> set[str]:
        return {w["id"] for w in instances(ctx, runtime, service) if w["version"] == version}

    before = running() if sandbox else set()
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=min(int(group["MinSize"]), replicas),
        MaxSize=max(int(group["MaxSize"]), replicas),
        DesiredCapacity=replicas,
    )
    result: dict[str, Any] = {"autoscaling_group": name}
    if sandbox:  # the sandbox's scheduler starts or stops the group's instances
        deadline = time.monotonic() + READY_TIMEOUT
        while len(after := running()) != replicas:
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"The Auto Scaling group {name} runs {len(after)} of {replicas} instances "
                    f"after {READY_TIMEOUT:.0f} s; in the sandbox its scheduler runs them: see "
                    "`soa-lab status` and the scheduler's log."
                )
            time.sleep(0.1)
        wait_passing(ctx.consul, service, runtime.partition, version, replicas)
        result["started"] = sorted(after - before, key=_natural)
        result["stopped"] = sorted(before - after, key=_natural)
    return result


def _group_of(autoscaling: Any, runtime: Runtime, service: str, version: str) -> dict[str, Any]:
    """The Auto Scaling group of ``service`` ``version`` (``DescribeAutoScalingGroups``, its
    ``Service`` and ``Version`` tags, as ``terraform/modules/ec2_runtime`` sets them)."""
    wanted = {"Service": service, "Version": version}
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
            if all(tags.get(k) == v for k, v in wanted.items()):
                return group
    raise NotFound(
        f"{runtime.name} has no Auto Scaling group for {service} {version}: step 1 "
        f"(lab.runtime.create('{runtime.name}')) applies the one Terraform declares."
    )


def _scale_workloads(
    ctx: Context, runtime: Runtime, service: str, version: str, replicas: int
) -> dict[str, list[str]]:
    host = ctx.workloads
    have = [w for w in instances(ctx, runtime, service) if w["version"] == version]
    started: list[str] = []
    stopped: list[str] = []
    if len(have) < replicas:
        declared = runtime.spec.service(service)
        where = {
            s.name: r.consul_partition
            for s, r in ctx.runtime_step.mesh_spec_with(runtime.spec).services().values()
        }
        template = have[0] if have else {}
        new = host.start(
            service,
            version,
            partition=runtime.partition,
            runtime=runtime.name,
            upstreams=[
                {"name": u, "partition": where.get(u, runtime.partition)}
                for u in declared.upstreams
            ],
            count=replicas - len(have),
            message=template.get("message", f"{service} {version}"),
        )
        started = [w["id"] for w in new]
    for workload in have[replicas:][::-1]:
        host.stop(workload["id"])
        stopped.append(workload["id"])
    return {"started": started, "stopped": stopped}


# -- a call the intentions decide ---------------------------------------------------------
@dataclass
class CallAttempt:
    """One request from ``source`` to ``destination`` through ``source``'s sidecar."""

    source: str
    destination: str
    status: int
    body: str

    @property
    def denied(self) -> bool:
        """Envoy's answer to a request its RBAC filter (the intentions) refused."""
        return self.status == 403 and self.body.strip() == "RBAC: access denied"

    def __str__(self) -> str:
        verdict = "denied by the intentions" if self.denied else "allowed"
        answer = self.body.strip()[:60]
        return f"{self.source} -> {self.destination}: {self.status} {answer!r} ({verdict})"


def attempt_call(
    ctx: Context, runtime: Runtime, source: str, destination: str, wait: float = 10.0
) -> CallAttempt:
    """Have an instance of ``source`` call ``destination`` through its sidecar, whatever the
    intentions say (sandbox only). The workload host starts a short-lived instance of
    ``source`` whose sidecar declares ``destination`` as an upstream (as a build that calls a
    service it was never meant to would), sends one request to that upstream's local listener
    (the Unix socket in the instance's own folder, or its local port), then stops the
    instance. The request leaves with ``source``'s identity, so the mesh
    decides it by ``destination``'s intentions (and records it in its telemetry). On AWS the
    same test is a shell in one of ``source``'s tasks (ECS Exec), which the SDK leaves out."""
    host = ctx.workloads
    declared = runtime.spec.service(source)
    where = {
        s.name: r.consul_partition
        for s, r in ctx.runtime_step.mesh_spec_with(runtime.spec).services().values()
    }
    if destination not in where:
        raise ValidationError(
            f"'{destination}' is not a service of the mesh (services: {', '.join(sorted(where))})."
        )
    (probe,) = host.start(
        source,
        declared.versions[0],
        partition=runtime.partition,
        runtime=runtime.name,
        upstreams=[{"name": destination, "partition": where[destination]}],
        count=1,
        message=f"{source} {declared.versions[0]}",
        tags=["probe"],
    )
    try:
        (upstream,) = probe["upstreams"]
        where = upstream.get("local_bind_socket_path") or upstream["local_bind_port"]
        deadline = time.monotonic() + wait
        while True:  # the data plane opens the listener once it sees the registration
            conn = _upstream_connection(where)
            try:
                conn.request("GET", "/")
                reply = conn.getresponse()
                body = reply.read().decode(errors="replace")
                return CallAttempt(source, destination, reply.status, body)
            except (ConnectionRefusedError, FileNotFoundError):  # no listener (socket) yet
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(
                        f"The sidecar of {source}'s probe never listened for {destination} "
                        f"({where}) within {wait:.0f} s; see `soa-lab status`."
                    ) from None
                time.sleep(0.1)
            finally:
                conn.close()
    finally:
        host.stop(probe["id"])


class _UnixConnection(http.client.HTTPConnection):
    """An HTTP connection over a Unix socket (a sidecar's upstream listener on one)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _upstream_connection(where: str | int) -> http.client.HTTPConnection:
    """A connection to a sidecar's upstream listener: a Unix socket's path or a local port."""
    if isinstance(where, str):
        return _UnixConnection(where, timeout=5)
    return http.client.HTTPConnection("127.0.0.1", where, timeout=5)


# -- one instance ---------------------------------------------------------------------------
def stop_instance(ctx: Context, runtime: Runtime, service: str, index: int) -> str:
    """Stop instance ``index`` of ``service``; returns its id (sandbox: the workload's id,
    AWS: the ECS task ARN)."""
    validate.whole(index, "index (an instance number)", 0)
    if ctx.sandbox is not None:
        workload = pick(ctx, runtime, service, index)
        ctx.workloads.stop(workload["id"])
        return str(workload["id"])
    declared = runtime.spec.service(service)
    if runtime.spec.kind != "ecs":
        raise ValidationError(
            f"The SDK stops ECS tasks; {runtime.name} runs on {runtime.spec.kind}."
        )
    ecs = ctx.client(runtime.account, "ecs", runtime.region)
    tasks = [
        arn
        for version in declared.versions
        for arn in ecs.list_tasks(
            cluster=runtime.name, serviceName=workload_name(runtime.spec, declared, version)
        )["taskArns"]
    ]
    if index >= len(tasks):
        raise ValidationError(f"{service} has {len(tasks)} running tasks; {index} is not one.")
    ecs.stop_task(cluster=runtime.name, task=tasks[index], reason="stopped from soa-lab")
    return str(tasks[index])


def set_health(
    ctx: Context, runtime: Runtime, service: str, index: int, code: int, wait: float
) -> dict[str, Any]:
    """Make instance ``index`` answer its health check with ``code``; wait (up to ``wait``
    seconds) until Consul reports the matching status. Sandbox only."""
    validate.number(wait, "wait", 0, unit=" seconds")
    ctx.controls(
        "Breaking an instance's health check",
        "on AWS stop it (stop_instance) or deploy a faulty version.",
    )
    workload = pick(ctx, runtime, service, index)
    wanted = "passing" if code < 400 else "critical"
    started = time.monotonic()
    ctx.workloads.update(workload["id"], health_code=code)
    status = ""
    while True:
        entries = ctx.consul.request(
            "GET", f"health/checks/{service}", params={"partition": runtime.partition}
        )
        status = next(
            (c["Status"] for c in entries or [] if c.get("ServiceID") == workload["id"]), ""
        )
        if status == wanted or time.monotonic() - started > wait:
            break
        time.sleep(0.05)
    return {
        "instance": workload["id"],
        "version": workload["version"],
        "status": status,
        "seconds": round(time.monotonic() - started, 2),
    }


# -- traffic --------------------------------------------------------------------------------
@dataclass
class TrafficReport:
    """What ``requests`` requests through a runtime's ingress met."""

    runtime: str
    sent: int
    seconds: float
    by_status: dict[int, int]
    by_version: dict[str, int]
    by_instance: dict[str, int]
    upstreams: dict[str, dict[str, int]] = field(default_factory=dict)
    first_seq: int = 0
    last_seq: int = 0

    @property
    def ok(self) -> int:
        return self.by_status.get(200, 0)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def table(self) -> Table:
        rows = [
            {"what": "status", "value": str(k), "requests": v} for k, v in self.by_status.items()
        ]
        rows += [
            {"what": "entry version", "value": k, "requests": v} for k, v in self.by_version.items()
        ]
        rows += [
            {"what": "instance", "value": k, "requests": v} for k, v in self.by_instance.items()
        ]
        for service, versions in self.upstreams.items():
            rows += [
                {"what": f"{service} version", "value": k, "requests": v}
                for k, v in versions.items()
            ]
        return Table(
            rows,
            title=f"{self.sent} requests to {self.runtime} in {self.seconds:.2f} s "
            f"({self.rate:.0f}/s)",
        )


def drive(
    ctx: Context, runtime: Runtime, requests: int, concurrency: int, path: str
) -> TrafficReport:
    """Send ``requests`` GETs through the ingress with ``concurrency`` keep-alive connections,
    then count what the mesh recorded for them."""
    validate.whole(requests, "requests", 1, MAX_REQUESTS)
    validate.whole(concurrency, "concurrency", 1, MAX_CONCURRENCY)
    validate.url_path(path)
    _, before = ctx.telemetry(after=2**62) if ctx.sandbox is not None else ([], 0)
    description = f"Driving {requests:,} requests through the {runtime.name} ingress"
    statuses, seconds = send(runtime, requests, concurrency, path, description)
    report = TrafficReport(runtime.name, requests, seconds, statuses, {}, {})
    if ctx.sandbox is not None:
        _count_in_telemetry(ctx, runtime, report, before)
    return report


def send(
    runtime: Runtime,
    requests: int,
    concurrency: int,
    path: str,
    description: str | None,
    start: float | None = None,
    spread: float | None = None,
) -> tuple[dict[int, int], float]:
    """Send ``requests`` GETs through the ingress (arguments checked by the caller); the
    answers by status (0: no HTTP answer) and the seconds it took; progress shown under
    ``description`` (None: none). With ``spread``, request ``i`` is sent no earlier than
    ``start + i * spread / requests`` (unix seconds; ``start`` defaults to now): a steady
    rate rather than as fast as the connections go."""
    url = urlsplit(runtime.ingress_url)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    issued = [0]
    begin = time.time() if start is None else start
    step = spread / requests if spread else 0.0

    def worker() -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        mine: Counter[int] = Counter()
        try:
            while True:
                with lock:
                    if issued[0] >= requests:
                        break
                    due = begin + issued[0] * step
                    issued[0] += 1
                delay = due - time.time()
                if delay > 0:
                    time.sleep(delay)
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    response.read()
                    mine[response.status] += 1
                except (OSError, http.client.HTTPException):
                    connection.close()
                    mine[0] += 1  # 0: no HTTP answer at all
        finally:
            connection.close()
            with lock:
                statuses.update(mine)

    started = time.monotonic()
    shown = progress.task(description, total=requests) if description else nullcontext(None)
    with shown as bar:
        with ThreadPoolExecutor(min(concurrency, requests)) as pool:
            workers = [pool.submit(worker) for _ in range(min(concurrency, requests))]
            while wait_for(workers, timeout=0.1).not_done:
                if bar is not None:
                    bar.update(issued[0])
        if bar is not None:
            bar.update(requests)
    seconds = time.monotonic() - started
    if statuses.get(0) == requests:
        where = runtime.ingress_url
        raise unavailable(ingress_service(where), where, None, f"Traffic to {runtime.name}")
    return dict(sorted(statuses.items())), seconds


def _count_in_telemetry(ctx: Context, runtime: Runtime, report: TrafficReport, after: int) -> None:
    """Versions and instances, from what the data plane recorded since the traffic began
    (other traffic in the runtime during the same seconds would be counted too)."""
    records, last = ctx.telemetry(after=after)
    names = {s.name for s in runtime.spec.services}
    by_version: Counter[str] = Counter()
    by_instance: Counter[str] = Counter()
    upstreams: dict[str, Counter[str]] = {}
    for record in records:
        if record.get("source") == runtime.ingress:
            by_version[f"{record['destination']} {record.get('version') or 'unrouted'}"] += 1
            if record.get("instance"):
                by_instance[record["instance"]] += 1
        elif record.get("source") in names:
            upstreams.setdefault(record["destination"], Counter())[
                record.get("version") or "unrouted"
            ] += 1
            if record.get("instance"):
                by_instance[record["instance"]] += 1
    report.by_version = dict(sorted(by_version.items()))
    report.by_instance = dict(sorted(by_instance.items(), key=lambda kv: _natural(kv[0])))
    report.upstreams = {k: dict(sorted(v.items())) for k, v in sorted(upstreams.items())}
    report.first_seq, report.last_seq = after + 1, last
