"""What every part of step 2 needs: account sessions, the runtimes that exist, the mesh's
telemetry, and time ranges checked before any call.

Sessions into member accounts come from step 0 (STS ``AssumeRole`` into
``OrganizationAccountAccessRole``) and are kept until a minute before they expire, so a
notebook does not assume a role for every call. The runtimes that exist are the ones step 1
registered in Consul KV (``soa-lab/runtimes/<name>``); their declared services come from
``lab.runtime.spec(name)``, never from a list written here. The mesh's telemetry and the
workload host are the sandbox's (:class:`soa_sdk.sandbox.controls.SandboxControls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from soa_sdk.errors import NotFound, ServiceUnavailable, ValidationError, require_sandbox
from soa_sdk.runtime.mesh import ingress_name
from soa_sdk.telemetry import AccessLog

if TYPE_CHECKING:
    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.org import Organization
    from soa_sdk.runtime import Runtimes
    from soa_sdk.sandbox.controls import SandboxControls, WorkloadHostClient
    from soa_sdk.tf.lab_spec import RuntimeSpec

MANAGEMENT = "management"
CLOCK_SKEW = timedelta(minutes=5)  # CloudTrail and CloudWatch accept a little skew too


@dataclass(frozen=True)
class Runtime:
    """A runtime that exists: its declaration and where step 1 registered it."""

    spec: RuntimeSpec
    account: str
    account_id: str
    region: str
    partition: str
    ingress_url: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ingress(self) -> str:
        """The ingress gateway's Consul service name (the ``source`` of its telemetry)."""
        return ingress_name(self.spec)


def as_utc(value: datetime | timedelta | float | None, now: datetime) -> datetime | None:
    """A point in time, timezone-aware in UTC. A ``timedelta`` means "that long ago", a number
    is unix seconds, a naive ``datetime`` is local time (what ``datetime.now()`` gives)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    raise ValidationError(
        f"A time must be a datetime, a timedelta (that long ago) or unix seconds, not {value!r}."
    )


def time_range(
    start: datetime | timedelta | float | None, end: datetime | timedelta | float | None
) -> tuple[datetime | None, datetime | None]:
    """Check a time range before any call: start before end, neither in the future."""
    now = datetime.now(UTC)
    begin, finish = as_utc(start, now), as_utc(end, now)
    for label, moment in (("start", begin), ("end", finish)):
        if moment is not None and moment > now + CLOCK_SKEW:
            raise ValidationError(
                f"The {label} time {moment:%Y-%m-%d %H:%M:%S} UTC is in the future; "
                "choose a time range that has already happened."
            )
    if begin is not None and finish is not None and begin > finish:
        raise ValidationError(
            f"The time range starts ({begin:%Y-%m-%d %H:%M:%S} UTC) after it ends "
            f"({finish:%Y-%m-%d %H:%M:%S} UTC); swap start and end."
        )
    return begin, finish


class Context:
    """Shared by the parts of :class:`soa_sdk.observe.Observe`: sessions, runtimes, telemetry.

    ``aws``: the management account's session; ``org``: step 0 (member sessions);
    ``runtime_step``: step 1 (declared and registered runtimes); ``consul``: health and KV;
    ``region``: the lab's default region; ``sandbox``: the sandbox's controls, None on real
    endpoints."""

    def __init__(
        self,
        aws: EndpointSession,
        org: Organization,
        runtime_step: Runtimes,
        consul: ConsulApi,
        region: str,
        sandbox: SandboxControls | None = None,
    ) -> None:
        self.aws = aws
        self.org = org
        self.runtime_step = runtime_step
        self.consul = consul
        self.region = region
        self.sandbox = sandbox
        self._log: AccessLog | None = None

    def controls(self, what: str, instead: str) -> SandboxControls:
        """The sandbox's controls; a clear error saying ``what`` is sandbox-only otherwise."""
        return require_sandbox(self.sandbox, what, instead)

    @property
    def workloads(self) -> WorkloadHostClient:
        """The sandbox's workload host (sandbox only)."""
        return self.controls(
            "The workload host",
            "on AWS the services run as ECS tasks, EKS pods or EC2 instances.",
        ).workloads

    # -- accounts ----------------------------------------------------------------------------
    def account_names(self) -> list[str]:
        """``management`` and every member account that exists."""
        return [MANAGEMENT, *(a.name for a in self.org.accounts())]

    def check_accounts(self, accounts: list[str] | None) -> list[str]:
        """The accounts asked for (all when None); a clear error naming the known ones."""
        known = self.account_names()
        if accounts is None:
            return known
        if isinstance(accounts, str):
            accounts = [accounts]
        unknown = [a for a in accounts if a not in known]
        if unknown:
            raise NotFound(
                f"There is no account named {', '.join(map(repr, unknown))}; the accounts are: "
                f"{', '.join(known)}."
            )
        return list(dict.fromkeys(accounts))

    def session(self, account: str) -> Any:
        """A boto3 session in ``account`` (``management`` is the lab's own session)."""
        if account == MANAGEMENT:
            return self.aws
        return self.org.session(account).session  # cached by step 0 until near expiry

    def client(self, account: str, service: str, region: str | None = None) -> Any:
        """A boto3 client of ``service`` inside ``account``, in ``region`` (the lab's default)."""
        return self.session(account).client(service, region_name=region or self.region)

    # -- runtimes ----------------------------------------------------------------------------
    def runtimes(self) -> list[Runtime]:
        """Every declared runtime that step 1 has created (registered in Consul KV)."""
        found = []
        for name, record in self.runtime_step.registered().items():
            try:
                spec = self.runtime_step.spec(name)
            except NotFound:
                continue  # registered by a template that is gone: nothing we can describe
            found.append(
                Runtime(
                    spec,
                    record["account"],
                    record["account_id"],
                    record["region"],
                    record["partition"],
                    record["ingress_url"],
                )
            )
        return found

    def runtime(self, name: str) -> Runtime:
        """The runtime ``name``; a clear error when it is not declared or not created."""
        self.runtime_step.spec(name)  # NotFound naming the declared runtimes
        for runtime in self.runtimes():
            if runtime.name == name:
                return runtime
        raise NotFound(f"The runtime '{name}' does not exist yet: create it first (step 1).")

    def runtime_of_service(self, service: str, runtime: str | None = None) -> Runtime:
        """The existing runtime that runs ``service`` (or check that ``runtime`` runs it)."""
        candidates = [self.runtime(runtime)] if runtime else self.runtimes()
        for found in candidates:
            if any(s.name == service for s in found.spec.services):
                return found
        where = f"the runtime '{runtime}'" if runtime else "any runtime that exists"
        names = sorted({s.name for r in candidates for s in r.spec.services})
        raise NotFound(
            f"There is no service '{service}' in {where} (the services are: "
            f"{', '.join(names) or 'none'})."
        )

    # -- telemetry ---------------------------------------------------------------------------
    def _access_log(
        self, path: str, admin_urls: list[str], admin_headers: dict[str, str]
    ) -> AccessLog:
        """The Envoys' access log, kept (it is read incrementally); versions from Consul."""
        if self._log is None or self._log.path != path:
            versions: dict[tuple[str, str], dict[str, str]] = {}

            def version_of(partition: str, service: str, instance: str) -> str:
                known = versions.get((partition, service), {})
                if instance not in known:
                    entries = self.consul.request(
                        "GET",
                        f"catalog/service/{service}",
                        params={"partition": partition},
                        doing=f"read the instances of {service}",
                    )
                    # Merged into what is known: the retired instances found before stay
                    # known (as ""), or records of two of them interleaved would ask Consul
                    # again at every record.
                    known = {
                        **known,
                        **{
                            str(e.get("ServiceID")): str(
                                (e.get("ServiceMeta") or {}).get("version", "")
                            )
                            for e in entries or []
                        },
                    }
                    known.setdefault(instance, "")  # retired: not asked again
                    versions[(partition, service)] = known
                return known.get(instance, "")

            self._log = AccessLog(path, version_of, admin_urls, admin_headers)
        return self._log

    def telemetry(
        self, after: int = 0, since: float | None = None, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Records of the Envoys' access log (one per request and hop) after sequence number
        ``after`` (and starting at or after ``since``), oldest first, with the log's last
        sequence number."""
        controls = self.controls(
            "The mesh telemetry",
            "on AWS read Envoy's statistics from CloudWatch (the CloudWatch agent publishes "
            "them) with metrics().",
        )
        if not controls.envoy_access_log:
            raise ServiceUnavailable(
                "The sandbox records no Envoy access log: run `soa-lab down`, then `soa-lab up`."
            )
        log = self._access_log(
            controls.envoy_access_log, controls.envoy_admin_urls, controls.envoy_admin_headers
        )
        return log.query(after, since, limit)
