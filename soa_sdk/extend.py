"""Step 5: add a runtime from the template, joined to the mesh across accounts.

:meth:`Extend.add_runtime` follows the monorepo's pattern: it writes the new runtime's folder
from ``terraform/templates/runtime`` (:mod:`soa_sdk.tf.template`), runs the offline checks on it
(:mod:`soa_sdk.tf.checks`: parse, fmt, conventions, checkov), then builds it: an account under
the ``runtimes`` OU (step 0's ``add_account``), the runtime in it (step 1's ``create`` with the
folder: ``terraform apply`` of it and, from the same copy of ``terraform/``, of
``shared_services/consul``, whose ``modules/lab_spec`` now finds the new folder and declares its
admin partition, its entries and the failover; then its workloads). Every runtime step 5 adds
goes into one copy (a second one is refused), and while they exist step 1 applies the mesh's
policy from that copy too, for from ``terraform/`` Terraform would plan their partitions away,
as a branch without their folders would. The new runtime runs services that already run
elsewhere (e.g. ``payments``): the existing runtime stays the service's primary, the new one
becomes its failover target. In Consul terms (the entries ``shared_services/consul``
declares):

- the new partition exports the service to the partitions of its callers
  (``exported-services``), and its ``service-intentions`` allow those callers;
- the primary's partition gets a ``service-resolver`` with
  ``Failover {"*": {"Targets": [{"Partition": "<new>"}]}}``, so a caller's sidecar sends the
  request to the new partition when no instance of the primary is healthy.

A new runtime in another region would, on real Consul, join through cluster peering; the
sandbox has one datacenter, so admin partitions stand for both.

Everything is validated before any change (name taken: :class:`Conflict`; unknown kind, region,
service, or a bad account or folder name: :class:`ValidationError`): a rejected call writes no
folder and creates nothing. What it did is recorded in Consul's KV store
(``soa-lab/extensions/<name>``), so :meth:`Extend.remove_runtime` undoes all of it, from any
process: the runtime (workloads, AWS resources: ``terraform destroy`` of its folder; its
partition and entries: ``terraform destroy -target`` of the partition), the account (removed
from the organization: ``RemoveAccountFromOrganization`` in the sandbox; on real AWS an account
is closed instead, ``CloseAccount``, and AWS keeps it suspended for 90 days), the folder it
wrote, and then the failover (``shared_services/consul`` applied again without the folder). A
scratch copy of ``terraform/`` that :meth:`Extend.scratch_terraform` made goes with the last runtime
written into it, so a run of step 5 leaves no ``soa-lab-step5-*`` folder behind.

Calling ``add_runtime`` again with the same arguments adopts what exists (the runtime is
recorded with the same specification): it is not a conflict.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from soa_sdk import org_spec, tools, validate
from soa_sdk.errors import Conflict, NotFound, SoaLabError, ValidationError
from soa_sdk.paths import terraform_root as default_terraform_root
from soa_sdk.runtime import mesh as runtime_mesh
from soa_sdk.tables import Table
from soa_sdk.tf import checks as tf_checks
from soa_sdk.tf import lab_spec as tfspec
from soa_sdk.tf import template

if TYPE_CHECKING:
    from soa_sdk.awsclient import EndpointSession
    from soa_sdk.consul_api import ConsulApi
    from soa_sdk.org import Organization
    from soa_sdk.runtime import RuntimeReport, Runtimes
    from soa_sdk.sandbox.controls import SandboxControls

RECORD_PREFIX = runtime_mesh.EXTENSIONS_PREFIX
RUNTIMES_OU = "runtimes"
SCRATCH_MARKER = ".soa-lab-scratch"  # in a scratch copy the lab made, beside terraform/


def supported_regions() -> tuple[str, ...]:
    """The AWS commercial regions botocore knows for EC2 (read offline from its endpoints)."""
    return tuple(sorted(boto3.session.Session().get_available_regions("ec2")))


@dataclass
class ExtensionReport:
    """What :meth:`Extend.add_runtime` wrote, checked and built."""

    spec: tfspec.RuntimeSpec
    folder: Path
    checks: list[tf_checks.CheckResult]
    runtime: RuntimeReport
    account_id: str
    failover: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per service: ``{"primary": partition, "targets": [partitions]}``."""

    @property
    def checks_ok(self) -> bool:
        return all(result.ok for result in self.checks)

    def checks_table(self) -> Table:
        rows = [
            {
                "check": r.check,
                "result": "ok" if r.ok else f"{len(r.findings)} finding(s)",
                "seconds": round(r.seconds, 1),
                "first finding": str(r.findings[0]) if r.findings else "",
            }
            for r in self.checks
        ]
        return Table(rows, title=f"Offline checks of {self.folder.name}/")

    def failover_table(self) -> Table:
        rows = [
            {"service": name, "primary": f["primary"], "fails over to": ", ".join(f["targets"])}
            for name, f in self.failover.items()
        ]
        return Table(rows, title="Failover across runtimes (service-resolver in the primary)")


class Extend:
    """Add and remove runtimes. Reached as ``lab.extend``.

    It adds the runtime's account through step 0 (``org``; ``aws`` closes it again), builds
    the runtime with step 1 (``runtime``), writes failover resolvers and its records in
    Consul (``consul``) and, on the sandbox only, labels the workloads the new runtime runs
    (``sandbox``; None on real endpoints)."""

    def __init__(
        self,
        aws: EndpointSession,
        consul: ConsulApi,
        org: Organization,
        runtime: Runtimes,
        sandbox: SandboxControls | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.aws = aws
        self.consul = consul
        self.org = org
        self.runtime = runtime
        self.sandbox = sandbox
        self.progress = progress or (lambda message: None)

    # -- plan (validation only) -----------------------------------------------------------
    def plan(
        self,
        name: str,
        kind: str,
        region: str,
        services: tuple[str, ...] | list[str] = ("payments",),
        account: str | None = None,
        terraform_root: Path | str | None = None,
    ) -> tuple[tfspec.RuntimeSpec, tfspec.MeshSpec, org_spec.AccountSpec]:
        """Validate a new runtime and return (its spec, the mesh with it, its account).

        Changes nothing. Raises :class:`ValidationError` (bad or unsupported value),
        :class:`Conflict` (name or account in use) or :class:`NotFound` (a primary runtime
        that does not run yet)."""
        root = self._root(terraform_root)
        validate.RUNTIME.check(name, "runtime (and folder) name")
        if kind not in tfspec.RUNTIME_KINDS:
            raise ValidationError(
                f"Kind {kind!r} is not supported; use one of {', '.join(tfspec.RUNTIME_KINDS)}."
            )
        if region not in supported_regions():
            raise ValidationError(f"{region!r} is not a supported AWS region (e.g. us-west-2).")
        account_name = validate.ACCOUNT.check(account if account is not None else name)
        validate.names(services, "services", validate.SERVICE)
        holding = self.runtime.extension_root()
        if holding is not None and holding.resolve() != root.resolve():
            raise Conflict(
                f"Step 5 adds every runtime to one copy of terraform/, and {holding} holds "
                f"{', '.join(self.added())}: pass terraform_root={str(holding)!r}, or remove "
                "them first (lab.extend.remove_runtime)."
            )
        existing = tfspec.load_mesh(root)
        record = self._record(name)
        if any(r.name == name for r in existing.runtimes) and record is None:
            raise Conflict(f"The runtime name '{name}' is already used; choose another.")
        registered = self.runtime.record(name)
        if registered is not None and record is None:
            raise Conflict(f"A runtime named '{name}' already runs; choose another name.")
        declared = existing
        if record is not None:  # re-running: judge against the mesh without it
            declared = tfspec.MeshSpec(tuple(r for r in existing.runtimes if r.name != name))
        known = declared.services()
        copies = []
        for service in services:
            if service not in known:
                raise ValidationError(
                    f"No runtime runs a service named {service!r} (known: {', '.join(known)}); "
                    "a new runtime runs services that fail over from an existing one."
                )
            copies.append(known[service][0])
        spec = template.runtime_spec(
            name,
            kind,
            region,
            vpc_cidr=template.next_vpc_cidr(declared),
            account=account_name,
            services=copies,
        )
        combined = tfspec.MeshSpec((*declared.runtimes, spec))
        tfspec.validate_mesh(combined)
        if record is not None and record["spec"] != spec.to_document():
            raise Conflict(
                f"The runtime '{name}' was added with another specification; remove it first."
            )
        self._check_account(spec, record is not None)
        for service in services:
            primary = combined.placements(service)[0]
            # The folders load in name order: the new one must come after the primary's, so
            # that Terraform and the sandbox agree on which runtime is the primary.
            if spec.folder < primary.folder:
                raise ValidationError(
                    f"'{name}' sorts before {primary.name}, which would make it the primary of "
                    f"'{service}'; choose a name that sorts after {primary.name}."
                )
            if self.runtime.record(primary.name) is None:
                raise NotFound(
                    f"'{service}' runs in {primary.name}, which does not run yet: create it "
                    f"first (lab.runtime.create('{primary.name}'))."
                )
        email_domain = self.org.spec.accounts[0].email.split("@", 1)[1]
        email = f"aws+{account_name}@{email_domain}"
        new_account = org_spec.AccountSpec(account_name, email, RUNTIMES_OU)
        org_spec.validate_account(new_account, self.org.spec.ou_names())
        return spec, combined, new_account

    @staticmethod
    def _root(terraform_root: Path | str | None) -> Path:
        """The Terraform root to write into: an existing folder (the project's by default)."""
        if terraform_root is None:
            return default_terraform_root()
        return validate.folder(terraform_root, "terraform_root")

    def _check_account(self, spec: tfspec.RuntimeSpec, rerun: bool) -> None:
        if rerun:
            return
        if spec.account in [a.name for a in self.org.spec.accounts]:
            raise Conflict(
                f"The account '{spec.account}' already belongs to the organization; a new "
                "runtime gets its own account."
            )

    # -- add --------------------------------------------------------------------------------
    def add_runtime(
        self,
        name: str,
        kind: str,
        region: str,
        services: tuple[str, ...] | list[str] = ("payments",),
        account: str | None = None,
        terraform_root: Path | str | None = None,
        checkov: bool = True,
    ) -> ExtensionReport:
        """Write, check and build a new runtime that runs ``services`` as failover targets.

        ``terraform_root``: where to write the folder (the project's ``terraform/`` by
        default; tests and the notebook pass a scratch copy)."""
        validate.flag(checkov, "checkov")
        root = self._root(terraform_root)
        spec, combined, account_spec = self.plan(name, kind, region, services, account, root)
        say = self.progress
        folder = root / spec.folder
        wrote = self._write_folder(spec, root, account_spec)
        say(f"{'wrote' if wrote else 'kept'} {folder}")
        try:
            results = self._run_checks(folder, checkov)
            say("checks: " + "; ".join(r.summary() for r in results))
            self._put_record(spec, folder, account_spec)
            if account_spec.name in [a.name for a in self.org.spec.accounts]:
                self.org.spec.account(account_spec.name)
                created = self.org.ensure().account(account_spec.name)  # a re-run
            else:
                created = self.org.add_account(account_spec)
            say(f"account {created.name} ({created.id}) in OU {created.ou}")
            report = self.runtime.create(spec=spec, with_upstreams=False, terraform_root=root)
            self._label_workloads(spec)
            failover = self._failover(spec, combined)
        except BaseException:
            if wrote:
                self.progress(f"adding {name} failed: undoing what it did")
                try:
                    if self._record(name) is not None:
                        self.remove_runtime(name)
                    else:
                        shutil.rmtree(folder, ignore_errors=True)
                        self._drop_scratch(root)
                except SoaLabError:
                    pass
            raise
        return ExtensionReport(spec, folder, results, report, created.id, failover)

    def _write_folder(
        self, spec: tfspec.RuntimeSpec, root: Path, account: org_spec.AccountSpec
    ) -> bool:
        folder = root / spec.folder
        if folder.exists():
            wanted = template.render_runtime_folder(spec, templates=template.templates_root(root))
            have = {p.name: p.read_text() for p in folder.iterdir() if p.is_file()}
            if have != wanted:
                raise Conflict(f"{folder} exists with other contents; remove it first.")
            return False
        names = [a.name for a in self.org.spec.accounts]
        if account.name not in names:
            names.append(account.name)
        # The folder is validated against the runtimes under root *without* the copies'
        # duplicates being treated as clashes: validate_mesh accepts the same service.
        template.write_runtime_folder(spec, root, account_names=names)
        return True

    def _run_checks(self, folder: Path, checkov: bool) -> list[tf_checks.CheckResult]:
        try:
            return tf_checks.run_all(folder, checkov=checkov)
        except tools.ToolUnavailable as error:
            results = tf_checks.run_all(folder, checkov=False)
            missing = tf_checks.CheckResult("checkov", str(folder))
            missing.findings.append(tf_checks.Finding("checkov", str(folder), str(error)))
            return [*results, missing]

    def _label_workloads(self, spec: tfspec.RuntimeSpec) -> None:
        """Make the new runtime's replies say where they come from."""
        if self.sandbox is None:
            return
        for workload in self.sandbox.workloads.list():
            if workload.get("runtime") == spec.name:
                message = f"{workload['name']} {workload['version']} ({spec.name})"
                if workload.get("message") != message:
                    self.sandbox.workloads.update(workload["id"], message=message)

    @staticmethod
    def _failover(spec: tfspec.RuntimeSpec, combined: tfspec.MeshSpec) -> dict[str, dict[str, Any]]:
        """Each service's primary partition and the partitions it fails over to (the new one
        included), as the resolvers that ``shared_services/consul`` applied declare them."""
        failover = {}
        for service in spec.services:
            primary = combined.placements(service.name)[0]
            failover[service.name] = {
                "primary": primary.consul_partition,
                "targets": [r.consul_partition for r in combined.failover_targets(service.name)],
            }
        return failover

    # -- remove -----------------------------------------------------------------------------
    def remove_runtime(self, name: str) -> list[str]:
        """Undo :meth:`add_runtime`: failover, runtime, account, folder. NotFound if ``name``
        was not added by step 5."""
        validate.RUNTIME.check(name)
        record = self._record(name)
        if record is None:
            raise NotFound(f"No runtime named '{name}' was added by step 5.")
        spec = tfspec.parse_runtime(record["spec"], f"the record of {name}")
        account = org_spec.AccountSpec(**record["account"])
        if account.name not in [a.name for a in self.org.spec.accounts]:
            self.org.spec = self.org.spec.with_account(account)  # a new process
        folder = Path(record["folder"])
        root = folder.parent
        removed = self.runtime.destroy(spec=spec, terraform_root=root)
        removed += self._remove_account(account.name)
        if folder.is_dir() and (folder / tfspec.RUNTIME_FILE).is_file():
            shutil.rmtree(folder)
            removed.append(f"folder:{folder}")
        self.consul.request("DELETE", f"kv/{RECORD_PREFIX}{name}")
        # The mesh's policy without the runtime: the primaries' resolvers lose their failover.
        mesh_policy = self.runtime.apply_mesh_policy(root if root.is_dir() else None)
        removed += [
            f"terraform/{runtime_mesh.TERRAFORM_FOLDER}:{address}"
            for address in (*mesh_policy.changed, *mesh_policy.destroyed)
        ]
        if self._drop_scratch(root):
            removed.append(f"scratch:{folder.parent.parent}")
        return removed

    def _drop_scratch(self, root: Path) -> bool:
        """Remove ``root``'s scratch copy when the lab made it (:meth:`scratch_terraform`) and
        no runtime step 5 added is written into it any more; whether it was removed."""
        base = root.parent
        if root.name != "terraform" or not (base / SCRATCH_MARKER).is_file():
            return False
        for other in self.added():
            record = self._record(other) or {}
            if Path(record.get("folder", "/")).parent == root:
                return False
        shutil.rmtree(base, ignore_errors=True)
        return True

    def _remove_account(self, name: str) -> list[str]:
        found = next((a for a in self.org.accounts() if a.name == name), None)
        org = self.org
        org.spec = dataclasses.replace(
            org.spec, accounts=tuple(a for a in org.spec.accounts if a.name != name)
        )
        if found is None:
            return []
        client = self.aws.client("organizations")
        if self.sandbox is not None:
            client.remove_account_from_organization(AccountId=found.id)
            return [f"account:{name} (removed from the organization)"]
        client.close_account(AccountId=found.id)
        return [f"account:{name} (closed; AWS keeps it suspended for 90 days)"]

    # -- reading ----------------------------------------------------------------------------
    def added(self) -> list[str]:
        """The runtimes step 5 added (and has not removed)."""
        _, items = self.consul.client.kv.get(RECORD_PREFIX, keys=True)
        return sorted(key.removeprefix(RECORD_PREFIX) for key in items or ())

    def failover_resolver(self, service: str, partition: str) -> dict[str, Any] | None:
        """The ``service-resolver`` of ``service`` in ``partition``, as Consul holds it."""
        validate.SERVICE.check(service)
        validate.PARTITION.check(partition)
        return self.consul.get_config("service-resolver", service, partition)

    @staticmethod
    def answer_of(reply: dict[str, Any], service: str) -> str | None:
        """What ``service`` answered somewhere in a fake-service call chain."""
        if reply.get("name") == service:
            return str(reply.get("body", ""))
        for child in (reply.get("upstream_calls") or {}).values():
            found = Extend.answer_of(child, service)
            if found is not None:
                return found
        return None

    def wait_for_answer(
        self,
        runtime: str,
        service: str,
        expected: Callable[[str], bool],
        timeout: float = 10.0,
    ) -> tuple[int, dict[str, Any], float]:
        """Call ``runtime``'s ingress until ``service``'s answer in the call chain satisfies
        ``expected`` with HTTP 200; (status, reply, seconds waited). The last reply when the
        timeout passes (the caller asserts on it)."""
        validate.number(timeout, "timeout", 0, unit=" seconds")
        if not callable(expected):
            raise ValidationError("expected must be a function of the answer, e.g. str.isalpha.")
        started = time.monotonic()
        while True:
            status, reply = self.runtime.call(runtime)
            answer = self.answer_of(reply, service)
            done = status == 200 and answer is not None and expected(answer)
            if done or time.monotonic() - started > timeout:
                return status, reply, round(time.monotonic() - started, 2)
            time.sleep(0.2)

    @staticmethod
    def scratch_terraform(folder: Path | str | None = None) -> Path:
        """A copy of the project's ``terraform/`` to add runtimes to without touching the
        repository: ``<folder>/terraform`` (a ``str`` or ``Path``). Without ``folder``, a new
        temporary folder ``soa-lab-step5-*`` that the lab owns: :meth:`remove_runtime` removes
        it with the last runtime written into it (a folder you name is yours and stays)."""
        if folder:
            base = Path(folder)
        else:
            base = Path(tempfile.mkdtemp(prefix="soa-lab-step5-"))
            (base / SCRATCH_MARKER).write_text("made by soa-lab's scratch_terraform\n")
        target = base / "terraform"
        if not target.exists():
            shutil.copytree(
                default_terraform_root(),
                target,
                ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"),
            )
        return target

    # -- the record -------------------------------------------------------------------------
    def _record(self, name: str) -> dict[str, Any] | None:
        _, item = self.consul.client.kv.get(f"{RECORD_PREFIX}{name}")
        return json.loads(item["Value"]) if item and item.get("Value") else None

    def _put_record(
        self, spec: tfspec.RuntimeSpec, folder: Path, account: org_spec.AccountSpec
    ) -> None:
        record = {
            "spec": spec.to_document(),
            "folder": str(folder),
            "account": dataclasses.asdict(account),
        }
        self.consul.client.kv.put(f"{RECORD_PREFIX}{spec.name}", json.dumps(record))


__all__ = ["Extend", "ExtensionReport", "supported_regions"]
