"""Step 1: create a production runtime in its own account, its services in the mesh.

A runtime is declared in ``terraform/runtime_<x>/runtime.auto.tfvars.json`` (see
:mod:`soa_sdk.tf.lab_spec`): its kind (ecs, eks, ec2), account, region, VPC block, Consul admin
partition and services. :meth:`Runtimes.create` applies, with real Terraform through ``lab.tf``
and side by side, the mesh's policy (``terraform/shared_services/consul``: admin partitions,
config entries) and the runtime's folder with those of the runtimes it calls
(``terraform/runtime_ecs``...: network, compute, workload identity, into each runtime's account
through the role step 0 made there), reads back what they made (:mod:`.applied`), then adds what
Terraform does not declare: the runtime's ingress gateway (:mod:`.mesh`) and its registry entry.
A runtime that ``terraform/`` does not declare (step 5's new one) is built from its folder in a
copy of the monorepo (``terraform_root``), and its mesh entries by ``shared_services/consul``
applied from that copy; one with no folder at all is refused before any change. An ECS
runtime's services run what ECS runs for them (in the sandbox, the sandbox's scheduler starts
the workload host's instances to match each service's desired count and task definition, and
an Auto Scaling group's desired capacity of what its launch template's boot script runs): step 1
waits until they do and pass in Consul. In
the sandbox step 1 starts the workloads of EKS runtimes itself (Kubernetes pods have no stand-in
yet). Creating twice changes nothing (Terraform's plans are empty); when a step fails, what this
call created is removed again. A later step that needs the runtime calls
:meth:`Runtimes.require`: what Terraform made is read back, and no Terraform runs when it is all
there. :meth:`Runtimes.destroy` removes everything: what a release added beside Terraform's
services, then ``terraform destroy`` of the folder, the ingress gateway, and the runtime's
partition with its entries (``terraform destroy -target`` in ``shared_services/consul``).

Against real AWS the workloads are the ECS tasks / EKS pods / EC2 instances running the
fake-service image, joined to the mesh by Consul's ECS or Helm integration (declared in
Terraform); the SDK then only reads the ingress gateway's address from Consul.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from soa_sdk import validate
from soa_sdk.awsclient import translate_client_error
from soa_sdk.errors import Conflict, NotFound, ServiceUnavailable, SoaLabError, ValidationError
from soa_sdk.reachability import ingress_service, unavailable
from soa_sdk.runtime import applied, compute, mesh, proxy, workloads
from soa_sdk.tables import Table
from soa_sdk.tf.lab_spec import MeshSpec, RuntimeSpec, load_mesh, validate_runtime

if TYPE_CHECKING:
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.org import Organization
    from soa_sdk.sandbox.controls import SandboxControls
    from soa_sdk.tf.result import PlanSummary
    from soa_sdk.tf.workspace import LabTerraform

GATEWAY_PORTS_ON_AWS = (8080, 8443)


@dataclass
class RuntimeReport:
    """What a runtime consists of, as created or found."""

    name: str
    kind: str
    account: str
    account_id: str
    region: str
    partition: str
    ingress_url: str
    network: applied.Network
    compute: compute.Compute
    consul_entries: list[str] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    terraform: dict[str, PlanSummary] = field(default_factory=dict)
    """What ``terraform apply`` did in this call, by folder: ``shared_services/consul`` (the
    mesh's policy), the runtime's own (``runtime_ecs``...) and those of the runtimes it calls;
    empty for a runtime no folder declares."""

    def table(self) -> Table:
        """Every resource, one row each: where it lives, its kind and its identifier."""
        rows = [
            {"where": f"AWS {self.account}", "kind": "vpc", "id": self.network.vpc_id},
            *(
                {"where": f"AWS {self.account}", "kind": "subnet", "id": s}
                for s in self.network.subnet_ids
            ),
            {
                "where": f"AWS {self.account}",
                "kind": "security group",
                "id": self.network.security_group_id,
            },
        ]
        c = self.compute
        if c.cluster:
            rows.append(
                {"where": f"AWS {self.account}", "kind": f"{c.kind} cluster", "id": c.cluster}
            )
        rows += [
            {"where": f"AWS {self.account}", "kind": "ecs service", "id": s} for s in c.services
        ]
        if c.node_group:
            rows.append({"where": f"AWS {self.account}", "kind": "node group", "id": c.node_group})
        rows += [
            {"where": f"AWS {self.account}", "kind": "auto scaling group", "id": g}
            for g in c.groups
        ]
        rows += [{"where": f"AWS {self.account}", "kind": "instance", "id": i} for i in c.instances]
        rows += [
            {"where": f"Consul {self.partition}", "kind": e.split(":")[0], "id": e.split(":", 1)[1]}
            for e in self.consul_entries
        ]
        rows += [
            {
                "where": "sandbox",
                "kind": "workload",
                "id": f"{w['name']} {w['version']} at {w['url']}",
            }
            for w in self.workloads
        ]
        return Table(rows, title=f"Runtime {self.name} ({self.kind}, account {self.account_id})")


class Runtimes:
    """Create, describe, call and destroy runtimes. Reached as ``lab.runtime``.

    It uses Consul (partitions, config entries, its registry in KV), step 0's
    ``Organization`` (a session per member account) and, on the sandbox only, the sandbox's
    controls (the workload host that runs the services, loopback ports for the gateways)."""

    def __init__(
        self,
        consul: ConsulApi,
        org: Organization,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
        terraform: LabTerraform | None = None,
    ) -> None:
        self.consul = consul
        self.org = org
        self.sandbox = sandbox
        self.progress = progress or (lambda message: None)
        self.terraform = terraform

    # -- specification -----------------------------------------------------------------------
    def mesh_spec(self) -> MeshSpec:
        return load_mesh()

    def spec(self, name: str) -> RuntimeSpec:
        """The declared runtime ``name``; a clear error naming the declared ones otherwise."""
        validate.text(name, "A runtime name")
        return self.mesh_spec().runtime(name)

    def spec_table(self, name: str) -> Table:
        """The declared services of runtime ``name``: versions, replicas, what each calls."""
        runtime = self.spec(name)
        rows = [
            {
                "service": s.name,
                "versions": ", ".join(s.versions),
                "replicas": s.replicas,
                "calls": ", ".join(s.upstreams) or "-",
                "image": s.image,
            }
            for s in runtime.services
        ]
        title = (
            f"{runtime.name}: {runtime.kind} in account {runtime.account}, {runtime.region}, "
            f"Consul partition {runtime.consul_partition}"
        )
        return Table(rows, title=title)

    def upstream_runtimes(self, name: str) -> list[str]:
        """The other runtimes that serve what runtime ``name``'s services call."""
        runtime = self.spec(name)
        where = {s.name: r.name for s, r in self.mesh_spec().services().values()}
        wanted = {where[u] for s in runtime.services for u in s.upstreams if u in where}
        return sorted(wanted - {name})

    # -- create ------------------------------------------------------------------------------
    def create(
        self,
        name: str = "runtime-ecs",
        spec: RuntimeSpec | None = None,
        with_upstreams: bool = True,
        terraform_root: Path | None = None,
    ) -> RuntimeReport:
        """Build runtime ``name`` (or the given ``spec``); safe to run again.

        With ``with_upstreams`` (the default) the runtimes that serve what its services call
        are created first (idempotently), so that its requests succeed end to end.
        ``terraform_root``: a copy of ``terraform/`` holding the folder of a ``spec`` that
        ``terraform/`` does not declare (step 5 renders one): that folder is applied.
        """
        validate.flag(with_upstreams, "with_upstreams")
        return self._create(name, spec, with_upstreams, None, terraform_root)

    def require(self, name: str = "runtime-ecs") -> RuntimeReport:
        """Step 1's runtime for a later step (as ``lab.org.require()``): when it and the
        runtimes it calls were created and what Terraform made for them reads back through the
        APIs (registry entry, mesh entries, VPC, compute), each is checked as :meth:`create`
        checks it (ingress, workloads running and passing) without running Terraform; else
        :meth:`create`. Putting back drift in what Terraform declares is step 1's
        ``create()``, which plans every folder."""
        runtimes = [*map(self.spec, self.upstream_runtimes(name)), self.spec(name)]
        try:
            for runtime in runtimes:
                if self.record(runtime.name) is None:
                    raise NotFound(f"{runtime.name} was not created")
                report = self._build(runtime, self._account(runtime), None)
        except NotFound as missing:
            self.progress(f"{name} is needed, step 1 runs ({missing})")
            return self.create(name)
        return report

    def _create(
        self,
        name: str,
        spec: RuntimeSpec | None,
        with_upstreams: bool,
        terraform: dict[str, PlanSummary] | None,
        root: Path | None = None,
    ) -> RuntimeReport:
        runtime = self._runtime(name, spec)
        declared = self.is_declared(runtime)
        account = self._account(runtime)
        self._check_registry(runtime)
        folder = applied.folder(runtime)
        if self.terraform is None or not (declared or (root and (root / folder).is_dir())):
            raise ValidationError(
                f"No folder of terraform/ declares the runtime '{runtime.name}' as given: a "
                "runtime is built by terraform apply of its folder. Write one from the template "
                "(step 5's lab.extend.add_runtime does) and pass its copy as terraform_root."
            )
        upstreams = self.upstream_runtimes(name) if with_upstreams and spec is None else []
        if terraform is None:  # the first call applies what it and its upstreams need
            if declared:
                terraform = self.apply_declared([*map(self.spec, upstreams), runtime])
            else:  # step 5's: its folder, and the mesh's policy from the copy that holds it
                terraform = self.apply_declared([runtime], root)
        for other in upstreams:
            self.progress(f"{name} calls services of {other}: making sure it runs")
            self._create(other, None, False, terraform)
        existed = self.record(runtime.name) is not None
        try:
            report = self._build(runtime, account, terraform[folder])
        except BaseException:
            if not existed:  # never leave a half-created runtime behind
                self._teardown(runtime, root)
            raise
        report.terraform = dict(terraform)
        return report

    def is_declared(self, runtime: RuntimeSpec) -> bool:
        """Whether ``runtime`` is one of ``terraform/``'s runtimes, as declared there."""
        return self.terraform is not None and runtime in self.mesh_spec().runtimes

    def apply_declared(
        self, runtimes: list[RuntimeSpec], root: Path | None = None
    ) -> dict[str, PlanSummary]:
        """``terraform apply`` of the mesh's policy and of each runtime's folder, by folder
        (``root``: step 5's copy of ``terraform/`` that holds a runtime's folder).

        The folders have states, accounts and providers of their own and nothing in one
        refers to another, so they are applied side by side (one Terraform process each);
        every runtime's account is checked first, before any change."""
        accounts = {r.name: self._account(r).id for r in runtimes}
        jobs: dict[str, Callable[[], PlanSummary]] = {
            mesh.TERRAFORM_FOLDER: functools.partial(self.apply_mesh_policy, root)
        }
        for runtime in runtimes:
            jobs[applied.folder(runtime)] = functools.partial(
                self.apply_runtime, runtime, accounts[runtime.name], root
            )
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="terraform") as pool:
            running = {folder: pool.submit(job) for folder, job in jobs.items()}
        return {folder: future.result() for folder, future in running.items()}

    def apply_mesh_policy(self, root: Path | None = None) -> PlanSummary:
        """``terraform apply`` of ``shared_services/consul``: the admin partitions and config
        entries of every runtime the Terraform root declares (no change when they are as
        declared). The root is ``root``, else the copy step 5 added runtimes to while they
        exist (:meth:`extension_root`), else ``terraform/``."""
        assert self.terraform is not None
        root = root or self.extension_root()
        summary = self.terraform.apply(mesh.TERRAFORM_FOLDER, self._mesh_variables(), root)
        self.progress(f"terraform/{mesh.TERRAFORM_FOLDER}: {summary.counts()}")
        return summary

    def _mesh_variables(self) -> dict[str, str] | None:
        return None if self.sandbox is not None else {"consul_address": self.consul.url}

    def extension_root(self) -> Path | None:
        """The copy of ``terraform/`` that holds the runtimes step 5 added, while one exists:
        the mesh's policy is applied from there, for from ``terraform/`` Terraform would plan
        their partitions and entries away (as a branch without their folders would). Step 5
        writes every runtime it adds into that one copy."""
        roots = {Path(folder).parent for folder in mesh.extension_folders(self.consul)}
        return min((root for root in roots if root.is_dir()), default=None)

    def apply_runtime(
        self, runtime: RuntimeSpec, account_id: str, root: Path | None = None
    ) -> PlanSummary:
        """``terraform apply`` of the runtime's folder (``runtime_ecs``...; in ``root``, a copy
        of ``terraform/``, if given) into its account: the network, the compute and the
        workload identity it declares."""
        assert self.terraform is not None
        folder = applied.folder(runtime)
        summary = self.terraform.apply(folder, {"account_id": account_id}, root)
        self.progress(f"terraform/{folder}: {summary.counts()}")
        return summary

    def _build(
        self, runtime: RuntimeSpec, account: Any, terraform: PlanSummary | None
    ) -> RuntimeReport:
        """The runtime in its account (``terraform``: what the apply of its folder did; None
        when nothing was applied, and then what Terraform makes must already be there, else
        NotFound before any change) and in the mesh: the partition and entries that
        ``shared_services/consul`` applied, then the ingress gateway."""
        say = self.progress
        session = self.org.session(account.name).session
        consul = self.consul
        written = mesh.declared_entries(consul, runtime)
        regional = self._regional(session, runtime.region)
        try:
            net = applied.network(regional.client("ec2"), runtime)
            machines = applied.compute(regional, runtime)
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"build {runtime.name}") from None
        if terraform is None and not (written and machines.made()):
            raise NotFound(f"{runtime.name} lacks what terraform/{applied.folder(runtime)} makes")
        ports = mesh.ingress_ports(consul, runtime) or self._gateway_ports()
        ingress_url = mesh.ensure_ingress(consul, runtime, *ports)
        instances = self._ensure_workloads(runtime, regional, machines)
        self._register(runtime, account, ingress_url)
        self._wait_until_healthy(runtime)
        say(f"{runtime.name} serves through {ingress_url}")
        return RuntimeReport(
            runtime.name,
            runtime.kind,
            account.name,
            account.id,
            runtime.region,
            runtime.consul_partition,
            ingress_url,
            net,
            machines,
            [*written, f"ingress-gateway:{mesh.ingress_name(runtime)}"],
            instances,
        )

    def mesh_spec_with(self, runtime: RuntimeSpec) -> MeshSpec:
        """The declared mesh, with ``runtime`` in it (replacing a declared one of that name)."""
        validate_runtime(runtime)
        declared = [r for r in self.mesh_spec().runtimes if r.name != runtime.name]
        return MeshSpec((*declared, runtime))

    # -- read --------------------------------------------------------------------------------
    def ingress_url(self, name: str) -> str:
        validate.RUNTIME.check(name)
        record = self.record(name)
        if record is None:
            raise NotFound(f"The runtime '{name}' does not exist yet: create it first (step 1).")
        return str(record["ingress_url"])

    def api_origin(self, name: str) -> dict[str, Any]:
        """The runtime's public API as ``terraform/runtime_frontend``'s ``api_origin`` takes
        it: the ingress gateway's TLS listener (:func:`mesh.api_origin`)."""
        self.ingress_url(name)  # NotFound before the runtime exists
        return mesh.api_origin(self.consul, self.spec(name))

    def proxy_config(
        self, name: str, service: str, admin_url: str | None = None
    ) -> proxy.ProxyConfig:
        """What the sidecar of ``service`` (in runtime ``name``) holds in its Envoy: its
        listeners (with the intentions each enforces), routes, clusters (per subset, with
        their healthy endpoints and the identity each accepts) and the SPIFFE identities of
        its certificates, read from Envoy's admin ``/config_dump`` (:mod:`.proxy`).

        ``admin_url``: the sidecar's Envoy admin, e.g. ``http://localhost:19000`` through
        ``kubectl port-forward`` or ECS Exec on AWS; on the sandbox, its Envoy by default."""
        runtime = self.spec(name)
        validate.one_of_names(service, "service", [s.name for s in runtime.services], of=name)
        headers: dict[str, str] = {}
        if admin_url is None:
            if self.sandbox is None:
                raise ValidationError(
                    "Give the admin_url of the sidecar's Envoy (Consul's `consul connect envoy` "
                    "binds it to localhost:19000 in the task or pod: port-forward to it)."
                )
            urls = self.sandbox.envoy_admin_urls
            if not urls:
                raise ServiceUnavailable(
                    "The sandbox records no Envoy: run `soa-lab down`, then `soa-lab up`."
                )
            admin_url, headers = urls[0], self.sandbox.envoy_admin_headers
        sidecars = proxy.sidecars_of(self.consul, service, runtime.consul_partition)
        dump = proxy.fetch_config_dump(admin_url, headers=headers)
        return proxy.proxy_config(dump, sidecars, admin_url)

    def call(
        self, name: str = "runtime-ecs", path: str = "/", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Send one request through the runtime's ingress gateway; (status, JSON reply)."""
        validate.url_path(path)
        if headers is not None and not (
            isinstance(headers, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise ValidationError(f"headers must map header names to strings, not {headers!r}.")
        url = self.ingress_url(name) + path
        try:
            response = requests.get(url, headers=headers, timeout=10)
        except (requests.ConnectionError, requests.Timeout) as error:
            service = ingress_service(url)
            raise unavailable(service, url, error, f"Calling the ingress of {name}") from None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, {"code": response.status_code, "body": response.text}

    def is_allowed(self, name: str, source: str, destination: str) -> bool:
        """Whether the mesh lets ``source`` call ``destination`` in runtime ``name``
        (Consul's ``GET /v1/connect/intentions/check``). Both services must exist in the
        mesh, ``destination`` in runtime ``name``."""
        runtime = self.spec(name)
        validate.one_of_names(source, "service", self.mesh_spec().services())
        validate.one_of_names(destination, "service", [s.name for s in runtime.services], of=name)
        reply = self.consul.request(
            "GET",
            "connect/intentions/check",
            params={
                "source": source,
                "destination": destination,
                "partition": runtime.consul_partition,
            },
        )
        return bool(reply["Allowed"])

    @staticmethod
    def call_chain(reply: dict[str, Any]) -> Table:
        """The call chain of a fake-service reply: one row per service called, depth first."""
        rows: list[dict[str, Any]] = []

        def walk(node: dict[str, Any], depth: int) -> None:
            rows.append(
                {
                    "service": "  " * depth + str(node.get("name", "?")),
                    "answer": str(node.get("body", node.get("error", ""))),
                    "code": node.get("code"),
                    "duration": node.get("duration", ""),
                }
            )
            for child in (node.get("upstream_calls") or {}).values():
                walk(child, depth + 1)

        walk(reply, 0)
        return Table(rows, title="Call chain through the mesh")

    # -- destroy -----------------------------------------------------------------------------
    def destroy(
        self,
        name: str = "runtime-ecs",
        spec: RuntimeSpec | None = None,
        terraform_root: Path | None = None,
    ) -> list[str]:
        """Remove everything of the runtime: workloads, Consul entries, compute, network
        (``terraform destroy`` of its folder: in ``terraform_root`` for one step 5 rendered)."""
        runtime = self._runtime(name, spec)
        self._account(runtime)
        return self._teardown(runtime, terraform_root)

    def _teardown(self, runtime: RuntimeSpec, root: Path | None = None) -> list[str]:
        """Workloads started by hand, the compute (an ECS service's tasks stop with it), the
        mesh entries and partition, the network, the registry entry."""
        removed = []
        if self.sandbox is not None:
            for workload in workloads.of_runtime(self.sandbox.workloads, runtime.name):
                if not workloads.placed(workload):
                    self.sandbox.workloads.stop(workload["id"])
                    removed.append(f"workload:{workload['id']}")
        folder = applied.folder(runtime)
        by_terraform = self.terraform is not None and (
            self.is_declared(runtime) or (root is not None and (root / folder).is_dir())
        )
        try:
            if by_terraform:  # what a release added beside Terraform's, then Terraform's own
                session = self._regional(self.org.session(runtime.account).session, runtime.region)
                removed += compute.destroy_released(session, runtime)
                removed += self.destroy_runtime(runtime, root)
        except NotFound:
            pass  # the account is gone, and with it everything in it
        except SoaLabError:
            raise
        except Exception as error:
            raise translate_client_error(error, f"destroy {runtime.name}") from None
        if self.sandbox is not None:
            removed += self._wait_stopped(runtime)
        removed += mesh.remove_beside_terraform(self.consul, runtime, self.mesh_spec_with(runtime))
        if self.terraform is not None:
            removed += self.destroy_mesh_partition(runtime, root)
        self.consul.request("DELETE", f"kv/{mesh.REGISTRY_PREFIX}{runtime.name}")
        return removed

    def destroy_runtime(self, runtime: RuntimeSpec, root: Path | None = None) -> list[str]:
        """``terraform destroy`` of the runtime's folder; the addresses it destroyed."""
        assert self.terraform is not None
        folder = applied.folder(runtime)
        variables = {"account_id": self._account(runtime).id}
        summary = self.terraform.destroy(folder, variables, root)
        self.progress(f"terraform/{folder}: {len(summary.destroyed)} destroyed")
        return [f"terraform/{folder}:{address}" for address in summary.destroyed]

    def destroy_mesh_partition(self, runtime: RuntimeSpec, root: Path | None = None) -> list[str]:
        """``terraform destroy -target`` of the runtime's admin partition in
        ``shared_services/consul``: the partition and every entry Terraform made in it (they
        refer to it), the other runtimes' left as they are. A plan of the folder afterwards
        shows them to add again, as long as a folder declares the runtime."""
        assert self.terraform is not None
        address = f'consul_admin_partition.this["{runtime.consul_partition}"]'
        summary = self.terraform.destroy(
            mesh.TERRAFORM_FOLDER,
            self._mesh_variables(),
            root or self.extension_root(),
            targets=[address],
        )
        self.progress(f"terraform/{mesh.TERRAFORM_FOLDER}: {len(summary.destroyed)} destroyed")
        return [f"terraform/{mesh.TERRAFORM_FOLDER}:{a}" for a in summary.destroyed]

    def _wait_stopped(self, runtime: RuntimeSpec) -> list[str]:
        """Wait until the scheduler has stopped the runtime's ECS tasks (its services are
        deleted); the instances it stopped."""
        assert self.sandbox is not None
        host = self.sandbox.workloads
        seen = {w["id"] for w in workloads.of_runtime(host, runtime.name)}
        deadline = time.monotonic() + workloads.READY_TIMEOUT
        while left := workloads.of_runtime(host, runtime.name):
            if time.monotonic() > deadline:
                raise ServiceUnavailable(
                    f"{len(left)} workload(s) of {runtime.name} still run after its ECS "
                    "services were deleted; see the sandbox scheduler's log."
                )
            time.sleep(0.1)
        return [f"workload:{w}" for w in sorted(seen)]

    # -- helpers -----------------------------------------------------------------------------
    def _runtime(self, name: str, spec: RuntimeSpec | None) -> RuntimeSpec:
        """The runtime asked for: the given ``spec`` (checked), else the declared ``name``."""
        if spec is None:
            return self.spec(name)
        validate_runtime(spec)
        return spec

    def _account(self, runtime: RuntimeSpec) -> Any:
        accounts = {a.name: a for a in self.org.accounts()}
        if runtime.account not in accounts:
            raise NotFound(
                f"Runtime '{runtime.name}' belongs in the account '{runtime.account}', which "
                f"does not exist. Run step 0 first (the accounts are: {', '.join(accounts)})."
            )
        return accounts[runtime.account]

    def record(self, name: str) -> dict[str, Any] | None:
        """Where step 1 created runtime ``name`` (account, kind, region, partition, ingress),
        from its registry in Consul KV (``soa-lab/runtimes/<name>``); None if never created."""
        validate.RUNTIME.check(name)
        _, item = self.consul.client.kv.get(f"{mesh.REGISTRY_PREFIX}{name}")
        return json.loads(item["Value"]) if item and item.get("Value") else None

    def registered(self) -> dict[str, dict[str, Any]]:
        """Every runtime step 1 has created, by name, with its :meth:`record`."""
        _, items = self.consul.client.kv.get(mesh.REGISTRY_PREFIX, recurse=True)
        found = {}
        for item in items or []:
            name = item["Key"][len(mesh.REGISTRY_PREFIX) :]
            if item.get("Value") and "/" not in name:
                found[name] = json.loads(item["Value"])
        return found

    def _check_registry(self, runtime: RuntimeSpec) -> None:
        record = self.record(runtime.name)
        if record and record["account"] != runtime.account:
            raise Conflict(
                f"The runtime name '{runtime.name}' is already taken by the account "
                f"'{record['account']}'; choose another name."
            )

    def _register(self, runtime: RuntimeSpec, account: Any, ingress_url: str) -> None:
        record = {
            "account": account.name,
            "account_id": account.id,
            "kind": runtime.kind,
            "region": runtime.region,
            "partition": runtime.consul_partition,
            "ingress_url": ingress_url,
        }
        self.consul.client.kv.put(f"{mesh.REGISTRY_PREFIX}{runtime.name}", json.dumps(record))

    def _regional(self, session: Any, region: str) -> Any:
        if region == session.region_name:
            return session
        from soa_sdk.awsclient import EndpointSession

        credentials = session.get_credentials()
        return EndpointSession(
            aws_access_key_id=credentials.access_key,
            aws_secret_access_key=credentials.secret_key,
            aws_session_token=credentials.token,
            region_name=region,
            endpoint_url=getattr(session, "endpoint_url", None),
        )

    def _gateway_ports(self) -> tuple[int, int]:
        if self.sandbox is None:
            return GATEWAY_PORTS_ON_AWS
        plain = self.sandbox.free_port()
        secure = self.sandbox.free_port()
        while secure == plain:
            secure = self.sandbox.free_port()
        return plain, secure

    def _ensure_workloads(
        self, runtime: RuntimeSpec, session: Any, machines: compute.Compute
    ) -> list[dict[str, Any]]:
        """The sandbox's instances of the runtime. An ECS runtime's are its services' tasks
        and those of an EC2 runtime that Terraform applied its Auto Scaling groups' instances,
        which the sandbox's scheduler starts: wait until every service runs its desired
        count. Those of EKS runtimes (and of EC2 runtimes built without Terraform) are
        started here."""
        if self.sandbox is None:
            return []
        host = self.sandbox.workloads
        if runtime.kind == "ec2" and machines.groups:  # one group per service version
            for service in runtime.services:
                for version in service.versions:
                    workloads.wait_passing(
                        self.consul,
                        service.name,
                        runtime.consul_partition,
                        version,
                        service.replicas,
                    )
            return workloads.of_runtime(host, runtime.name)
        if runtime.kind == "ecs":
            try:
                workloads.wait_ecs_stable(session.client("ecs"), runtime.name, machines.services)
            except SoaLabError:
                raise
            except Exception as error:
                raise translate_client_error(error, f"wait for {runtime.name}'s services") from None
            return workloads.of_runtime(host, runtime.name)
        mesh_spec = self.mesh_spec_with(runtime)
        running = []
        for service in runtime.services:
            calls = workloads.upstreams(service, runtime, mesh_spec)
            for version in service.versions:
                running += workloads.ensure(host, runtime, service, version, calls)
        return running

    def _wait_until_healthy(self, runtime: RuntimeSpec) -> None:
        """Wait until every service has a passing instance (checks start critical)."""
        if self.sandbox is None:
            return
        for service in runtime.services:
            workloads.wait_passing(self.consul, service.name, runtime.consul_partition)


__all__ = ["RuntimeReport", "Runtimes", "ValidationError"]
