"""The lab's Terraform specifications, read by both Terraform and the SDK.

One file per concern, each next to the Terraform that consumes it:

``terraform/runtime_<x>/runtime.auto.tfvars.json``
    One runtime (``{"runtime": {...}}``): its kind (ecs, eks, ec2), organization account,
    region, VPC block, Consul admin partition and the services it runs (port, protocol,
    versions, upstreams, traffic weights per version, replicas, image). Terraform loads it
    as ``var.runtime`` of that folder; ``terraform/shared_services/consul`` reads every such
    file to build admin partitions, service-defaults, resolvers, splitters and intentions.
    Step 5 adds a runtime by writing a new folder (:mod:`soa_sdk.tf.template`).
``terraform/shared_services/access.json``
    The prod database (Vault's database secrets engine and its roles) and Boundary's
    org scope, groups, users and targets. Read by ``shared_services/vault`` and
    ``shared_services/boundary`` with ``jsondecode(file(...))``.
``terraform/org/organization.auto.tfvars.json``
    The organization; loaded by :mod:`soa_sdk.org_spec`, not here.

Every field is explicit in the files (no defaults on either side), so Terraform and Python
cannot drift apart on a default. Intentions are not written down: they follow from the
services' upstreams (a service may call exactly what it lists), with everything else denied.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soa_sdk import validate
from soa_sdk.errors import NotFound, SpecificationError, ValidationError
from soa_sdk.paths import terraform_root

RUNTIME_FILE = "runtime.auto.tfvars.json"
ACCESS_FILE = "access.json"
RUNTIME_KINDS = ("ecs", "eks", "ec2")
PROTOCOLS = ("http", "grpc", "tcp")
DATABASE_PRIVILEGES = ("readonly", "readwrite", "admin")

# The naming rules (runtime, service, version, region...) are soa_sdk.validate's, shared by
# every step.


# --- runtimes and services -----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One service of a runtime. Each version runs as its own workload; ``traffic`` gives
    each version's weight (percent, adding up to 100) in the service's splitter."""

    name: str
    port: int
    protocol: str
    versions: tuple[str, ...]
    upstreams: tuple[str, ...]
    traffic: Mapping[str, int]
    replicas: int
    image: str

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "protocol": self.protocol,
            "versions": list(self.versions),
            "upstreams": list(self.upstreams),
            "traffic": dict(self.traffic),
            "replicas": self.replicas,
            "image": self.image,
        }


@dataclass(frozen=True)
class RuntimeSpec:
    """One runtime: an account running services on one kind of compute in one region."""

    name: str
    kind: str
    account: str
    region: str
    vpc_cidr: str
    consul_partition: str
    services: tuple[ServiceSpec, ...] = field(default_factory=tuple)

    @property
    def folder(self) -> str:
        """The runtime's folder under ``terraform/``: ``runtime-ecs`` -> ``runtime_ecs``."""
        return self.name.replace("-", "_")

    def service(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise NotFound(f"Runtime '{self.name}' runs no service named '{name}'.")

    def to_document(self) -> dict[str, Any]:
        """The ``runtime.auto.tfvars.json`` document, as Terraform reads it."""
        return {
            "runtime": {
                "name": self.name,
                "kind": self.kind,
                "account": self.account,
                "region": self.region,
                "vpc_cidr": self.vpc_cidr,
                "consul_partition": self.consul_partition,
                "services": [s.to_document() for s in self.services],
            }
        }

    def to_json(self) -> str:
        return json.dumps(self.to_document(), indent=2) + "\n"


@dataclass(frozen=True)
class Intention:
    """Consul service-intentions source: ``source`` (in ``source_partition``) may call
    ``destination`` (in ``destination_partition``)."""

    destination: str
    destination_partition: str
    source: str
    source_partition: str
    action: str = "allow"


@dataclass(frozen=True)
class MeshSpec:
    """All runtimes together: the service mesh as declared."""

    runtimes: tuple[RuntimeSpec, ...]

    def runtime(self, name: str) -> RuntimeSpec:
        for runtime in self.runtimes:
            if runtime.name == name:
                return runtime
        known = ", ".join(r.name for r in self.runtimes) or "none"
        raise NotFound(f"There is no runtime named '{name}' (the runtimes are: {known}).")

    def services(self) -> dict[str, tuple[ServiceSpec, RuntimeSpec]]:
        """Every service by name, with its primary runtime (the first that runs it)."""
        found: dict[str, tuple[ServiceSpec, RuntimeSpec]] = {}
        for r in self.runtimes:
            for s in r.services:
                found.setdefault(s.name, (s, r))
        return found

    def placements(self, service: str) -> list[RuntimeSpec]:
        """The runtimes that run ``service``, in the mesh's order: the first is its primary,
        the others its failover targets (step 5 adds them)."""
        return [r for r in self.runtimes if any(s.name == service for s in r.services)]

    def failover_targets(self, service: str) -> list[RuntimeSpec]:
        """The runtimes traffic for ``service`` fails over to when its primary has no
        healthy instance (empty for a service that runs in one runtime)."""
        return self.placements(service)[1:]

    def intentions(self) -> list[Intention]:
        """One allow per (caller, upstream, runtime running the upstream), sorted by
        destination, source, then destination partition (the primary's comes first)."""
        found = [
            Intention(upstream, where.consul_partition, s.name, r.consul_partition)
            for r in self.runtimes
            for s in r.services
            for upstream in s.upstreams
            for where in self.placements(upstream)
        ]
        order = {r.consul_partition: n for n, r in enumerate(self.runtimes)}
        return sorted(
            found, key=lambda i: (i.destination, i.source, order[i.destination_partition])
        )


def parse_runtime(document: Any, source: str = "the runtime specification") -> RuntimeSpec:
    """Build a :class:`RuntimeSpec` from a ``runtime.auto.tfvars.json`` document, checking
    every field the way the Terraform variable's validations do."""
    body = document.get("runtime") if isinstance(document, dict) else None
    if not isinstance(body, dict):
        raise SpecificationError(f"{source} must hold an object under the key 'runtime'.")
    try:
        services = tuple(_parse_service(s, source) for s in _list(body, "services", source))
        runtime = RuntimeSpec(
            name=_str(body, "name", source),
            kind=_str(body, "kind", source),
            account=_str(body, "account", source),
            region=_str(body, "region", source),
            vpc_cidr=_str(body, "vpc_cidr", source),
            consul_partition=_str(body, "consul_partition", source),
            services=services,
        )
    except ValidationError as error:
        raise SpecificationError(str(error)) from None
    try:
        validate_runtime(runtime)
    except ValidationError as error:
        raise SpecificationError(f"{source}: {error}") from None
    return runtime


def validate_runtime(runtime: RuntimeSpec) -> None:
    """Raise :class:`ValidationError` unless the runtime and its services are well formed."""
    validate.instance(runtime, RuntimeSpec, "a RuntimeSpec (lab.runtime.spec(name))")
    validate.RUNTIME.check(runtime.name)
    if runtime.kind not in RUNTIME_KINDS:
        raise ValidationError(
            f"Runtime '{runtime.name}' has kind {runtime.kind!r}; use one of "
            f"{', '.join(RUNTIME_KINDS)}."
        )
    validate.ACCOUNT.check(runtime.account)
    validate.REGION.check(runtime.region)
    try:
        network = ipaddress.IPv4Network(validate.text(runtime.vpc_cidr, "vpc_cidr"))
    except ValueError:
        network = None
    if network is None or network.prefixlen != 16:
        raise ValidationError(f"'{runtime.vpc_cidr}' is not an IPv4 /16 block (e.g. 10.4.0.0/16).")
    validate.PARTITION.check(runtime.consul_partition)
    if not isinstance(runtime.services, tuple):
        raise ValidationError(f"Runtime '{runtime.name}': services must be a tuple of ServiceSpec.")
    names = [validate.instance(s, ServiceSpec, "a ServiceSpec").name for s in runtime.services]
    if len(set(names)) != len(names):
        raise ValidationError(f"Runtime '{runtime.name}' declares a service twice.")
    for service in runtime.services:
        validate_service(service)


def validate_service(service: ServiceSpec) -> None:
    """Raise :class:`ValidationError` unless one service is well formed."""
    validate.SERVICE.check(service.name)
    where = f"Service '{service.name}'"
    validate.whole(service.port, f"{where}: port", 1024, 65535)
    if service.protocol not in PROTOCOLS:
        raise ValidationError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}.")
    if not service.versions or not all(map(validate.DECLARED_VERSION.matches, service.versions)):
        raise ValidationError(f"{where} needs versions named v1, v2, ...")
    if len(set(service.versions)) != len(service.versions):
        raise ValidationError(f"{where} lists a version twice.")
    validate.names(service.upstreams, f"{where}: upstreams", validate.SERVICE, empty=True)
    if not isinstance(service.traffic, Mapping):
        raise ValidationError(f"{where}: traffic must map versions to weights.")
    for weight in service.traffic.values():
        validate.whole(weight, f"{where}: a traffic weight", 0, 100)
    unknown = set(service.traffic) - set(service.versions)
    if unknown or sum(service.traffic.values()) != 100:
        raise ValidationError(
            f"{where}: traffic must give weights to its own versions only "
            f"({', '.join(service.versions)}), adding up to 100."
        )
    if service.name in service.upstreams:
        raise ValidationError(f"{where} cannot be its own upstream.")
    validate.whole(service.replicas, f"{where}: replicas", 1, 20)
    validate.IMAGE.check(service.image, f"image name for service '{service.name}'")


def same_service(a: ServiceSpec, b: ServiceSpec) -> bool:
    """Whether two runtimes declare the same service (all but its replica count), as a
    service that runs in several runtimes must be."""
    return {**a.to_document(), "replicas": 0} == {**b.to_document(), "replicas": 0}


def validate_mesh(mesh: MeshSpec) -> None:
    """Checks across runtimes: unique runtime names, partitions and VPC blocks; upstreams
    exist; a service may run in several runtimes (the first is its primary, the others its
    failover targets) only when each declares it the same way: two different services may not
    share a name."""
    seen: dict[str, tuple[ServiceSpec, str]] = {}
    for runtime in mesh.runtimes:
        for service in runtime.services:
            if service.name in seen and not same_service(seen[service.name][0], service):
                raise ValidationError(
                    f"Service '{service.name}' is declared by both {seen[service.name][1]} and "
                    f"{runtime.name}, differently; service names are unique across the mesh "
                    "(a service may run in several runtimes only as the same service)."
                )
            seen.setdefault(service.name, (service, runtime.name))
    for attribute in ("name", "consul_partition"):
        values = [getattr(r, attribute) for r in mesh.runtimes]
        if len(set(values)) != len(values):
            raise ValidationError(f"Two runtimes share the same {attribute.replace('_', ' ')}.")
    networks = [ipaddress.IPv4Network(r.vpc_cidr) for r in mesh.runtimes]
    for i, a in enumerate(networks):
        for b in networks[i + 1 :]:
            if a.overlaps(b):
                raise ValidationError(f"VPC blocks {a} and {b} overlap; the mesh needs them apart.")
    for runtime in mesh.runtimes:
        for service in runtime.services:
            for upstream in service.upstreams:
                if upstream not in seen:
                    raise ValidationError(
                        f"Service '{service.name}' calls '{upstream}', which no runtime runs."
                    )


def load_runtime(folder: Path | str) -> RuntimeSpec:
    """Read ``<folder>/runtime.auto.tfvars.json``."""
    path = Path(folder) / RUNTIME_FILE
    return parse_runtime(_read_json(path), str(path))


def load_mesh(root: Path | str | None = None) -> MeshSpec:
    """Read every ``runtime_*/runtime.auto.tfvars.json`` under the Terraform root (the
    project's ``terraform/`` by default), sorted by folder, and check them together."""
    root = Path(root) if root is not None else terraform_root()
    runtimes = tuple(load_runtime(path.parent) for path in sorted(root.glob(f"*/{RUNTIME_FILE}")))
    for runtime in runtimes:
        path = root / runtime.folder / RUNTIME_FILE
        if not path.is_file():
            raise SpecificationError(
                f"Runtime '{runtime.name}' must live in the folder {runtime.folder}/ "
                "(its name with '-' replaced by '_')."
            )
    mesh = MeshSpec(runtimes)
    try:
        validate_mesh(mesh)
    except ValidationError as error:
        raise SpecificationError(f"The runtimes under {root}: {error}") from None
    return mesh


def check_accounts(mesh: MeshSpec, account_names: list[str] | tuple[str, ...]) -> None:
    """Every runtime must live in an account of the organization (``soa_sdk.org_spec``)."""
    for runtime in mesh.runtimes:
        if runtime.account not in account_names:
            raise SpecificationError(
                f"Runtime '{runtime.name}' names the account '{runtime.account}', which the "
                f"organization does not declare (accounts: {', '.join(account_names)})."
            )


# --- access: the prod database and Boundary ----------------------------------------------


@dataclass(frozen=True)
class DatabaseRole:
    """A Vault database role: credentials with these privileges, leased for default_ttl
    seconds and renewable up to max_ttl."""

    name: str
    privileges: str
    default_ttl: int
    max_ttl: int


@dataclass(frozen=True)
class DatabaseSpec:
    name: str
    engine: str
    host: str
    port: int
    database: str
    vault_mount: str
    roles: tuple[DatabaseRole, ...]

    def role(self, name: str) -> DatabaseRole:
        for role in self.roles:
            if role.name == name:
                return role
        raise NotFound(f"The database '{self.name}' has no Vault role named '{name}'.")

    def credentials_path(self, role: str) -> str:
        """The Vault path a client (or Boundary's credential library) reads."""
        return f"{self.vault_mount}/creds/{self.role(role).name}"


@dataclass(frozen=True)
class BoundaryGroup:
    name: str
    description: str


@dataclass(frozen=True)
class BoundaryUser:
    name: str
    description: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class BoundaryTarget:
    """A TCP target to the prod database in one runtime's project, with credentials
    brokered from Vault's ``database_role``; only ``groups`` may connect."""

    name: str
    project: str
    database_role: str
    groups: tuple[str, ...]
    session_max_seconds: int
    session_connection_limit: int


@dataclass(frozen=True)
class AccessSpec:
    database: DatabaseSpec
    org: str
    groups: tuple[BoundaryGroup, ...]
    users: tuple[BoundaryUser, ...]
    targets: tuple[BoundaryTarget, ...]

    def user(self, name: str) -> BoundaryUser:
        for user in self.users:
            if user.name == name:
                return user
        raise NotFound(f"There is no Boundary user named '{name}'.")

    def target(self, name: str) -> BoundaryTarget:
        for target in self.targets:
            if target.name == name:
                return target
        raise NotFound(f"There is no Boundary target named '{name}'.")

    def can_connect(self, user: str, target: str) -> bool:
        """Whether the declared roles let ``user`` open a session to ``target``."""
        return bool(set(self.user(user).groups) & set(self.target(target).groups))


def parse_access(document: Any, source: str = "the access specification") -> AccessSpec:
    """Build an :class:`AccessSpec` from ``access.json``, or say what is wrong."""
    if not isinstance(document, dict):
        raise SpecificationError(f"{source} must be a JSON object.")
    try:
        db = _dict(document, "database", source)
        database = DatabaseSpec(
            name=_str(db, "name", source),
            engine=_str(db, "engine", source),
            host=_str(db, "host", source),
            port=_int(db, "port", source),
            database=_str(db, "database", source),
            vault_mount=_str(db, "vault_mount", source),
            roles=tuple(
                DatabaseRole(
                    _str(r, "name", source),
                    _str(r, "privileges", source),
                    _int(r, "default_ttl", source),
                    _int(r, "max_ttl", source),
                )
                for r in _list(db, "roles", source)
            ),
        )
        boundary = _dict(document, "boundary", source)
        spec = AccessSpec(
            database=database,
            org=_str(boundary, "org", source),
            groups=tuple(
                BoundaryGroup(_str(g, "name", source), _str(g, "description", source))
                for g in _list(boundary, "groups", source)
            ),
            users=tuple(
                BoundaryUser(
                    _str(u, "name", source),
                    _str(u, "description", source),
                    tuple(_strs(u, "groups", source)),
                )
                for u in _list(boundary, "users", source)
            ),
            targets=tuple(
                BoundaryTarget(
                    _str(t, "name", source),
                    _str(t, "project", source),
                    _str(t, "database_role", source),
                    tuple(_strs(t, "groups", source)),
                    _int(t, "session_max_seconds", source),
                    _int(t, "session_connection_limit", source),
                )
                for t in _list(boundary, "targets", source)
            ),
        )
        validate_access(spec)
    except ValidationError as error:
        raise SpecificationError(f"{source}: {error}") from None
    return spec


def validate_access(spec: AccessSpec) -> None:
    """Names well formed and unique; every reference (group, role, project) resolves."""
    db = spec.database
    if db.engine != "postgresql":
        raise ValidationError("database.engine must be postgresql (the only engine wired up).")
    if not 1 <= db.port <= 65535 or not db.host:
        raise ValidationError("database.host must be set and database.port be 1-65535.")
    for name in (db.name, db.vault_mount, spec.org, db.database):
        validate.PRINCIPAL.check(name)
    for role in db.roles:
        if not validate.PRINCIPAL.matches(role.name) or role.privileges not in DATABASE_PRIVILEGES:
            raise ValidationError(
                f"Database role '{role.name}': privileges must be one of "
                f"{', '.join(DATABASE_PRIVILEGES)}."
            )
        if not 60 <= role.default_ttl <= role.max_ttl:
            raise ValidationError(
                f"Database role '{role.name}': need 60 <= default_ttl <= max_ttl."
            )
    groups = [g.name for g in spec.groups]
    for kind, names in (
        ("database role", [r.name for r in db.roles]),
        ("group", groups),
        ("user", [u.name for u in spec.users]),
        ("target", [t.name for t in spec.targets]),
    ):
        if len(set(names)) != len(names):
            raise ValidationError(f"A {kind} is declared twice.")
        for name in names:
            validate.PRINCIPAL.check(name, f"{kind} name")
    for user in spec.users:
        for group in user.groups:
            if group not in groups:
                raise ValidationError(f"User '{user.name}' is in an undeclared group '{group}'.")
    for target in spec.targets:
        if target.database_role not in [r.name for r in db.roles]:
            raise ValidationError(
                f"Target '{target.name}': the database has no Vault role named "
                f"'{target.database_role}'."
            )
        if not validate.RUNTIME.matches(target.project):
            raise ValidationError(f"Target '{target.name}': project must name a runtime.")
        for group in target.groups:
            if group not in groups:
                raise ValidationError(
                    f"Target '{target.name}' allows an undeclared group '{group}'."
                )
        if target.session_max_seconds < 60 or target.session_connection_limit == 0:
            raise ValidationError(
                f"Target '{target.name}': sessions must last at least 60 s and allow a connection."
            )


def load_access(path: Path | str | None = None) -> AccessSpec:
    """Read ``terraform/shared_services/access.json`` (or ``path``)."""
    path = Path(path) if path is not None else terraform_root() / "shared_services" / ACCESS_FILE
    return parse_access(_read_json(path), str(path))


# --- helpers ------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SpecificationError(f"The specification {path} does not exist.") from None
    except ValueError as error:
        raise SpecificationError(f"The specification {path} is not valid JSON ({error}).") from None


def _get(body: Mapping[str, Any], key: str, source: str) -> Any:
    if not isinstance(body, Mapping) or key not in body:
        raise ValidationError(f"{source}: the field '{key}' is missing (every field is required).")
    return body[key]


def _str(body: Mapping[str, Any], key: str, source: str) -> str:
    return validate.text(_get(body, key, source), f"{source}: '{key}'", empty=True)


def _int(body: Mapping[str, Any], key: str, source: str) -> int:
    return validate.whole(_get(body, key, source), f"{source}: '{key}'")


def _list(body: Mapping[str, Any], key: str, source: str) -> list[Any]:
    value = _get(body, key, source)
    if not isinstance(value, list):
        raise ValidationError(f"{source}: '{key}' must be a list.")
    return value


def _strs(body: Mapping[str, Any], key: str, source: str) -> list[str]:
    return list(validate.names(_list(body, key, source), f"{source}: '{key}'", empty=True))


def _dict(body: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = _get(body, key, source)
    if not isinstance(value, dict):
        raise ValidationError(f"{source}: '{key}' must be an object.")
    return value


def _parse_service(body: Any, source: str) -> ServiceSpec:
    traffic = _dict(body, "traffic", source)
    for weight in traffic.values():
        validate.whole(weight, f"{source}: a traffic weight", 0)
    return ServiceSpec(
        name=_str(body, "name", source),
        port=_int(body, "port", source),
        protocol=_str(body, "protocol", source),
        versions=tuple(_strs(body, "versions", source)),
        upstreams=tuple(_strs(body, "upstreams", source)),
        traffic=dict(traffic),
        replicas=_int(body, "replicas", source),
        image=_str(body, "image", source),
    )
