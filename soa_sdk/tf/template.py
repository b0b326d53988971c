"""A new runtime folder from the template (step 5 of the lab).

The template is real, formatted HCL under ``terraform/templates/runtime/``: ``common/``
(versions, providers, variables) plus one folder per kind (``ecs/``, ``eks/``, ``ec2/``: main
and outputs). The .tf files carry no placeholders at all: everything that differs between
runtimes is data, written to the folder's ``runtime.auto.tfvars.json``, which Terraform
loads as ``var.runtime``. So a rendered folder is the template plus one JSON file, and the
committed ``runtime_ecs/``, ``runtime_eks/`` and ``runtime_ec2/`` are exactly what
:func:`render_runtime_folder` makes from their own specification (a test holds them to it).
Their .tf files are symbolic links to the template's (Terraform reads a linked file as its
own; module paths stay relative to the runtime's folder), so only the JSON is theirs; a
folder this module writes for a new runtime holds copies, so that it stands on its own.

Names are validated, and the new runtime is checked against the runtimes already there
(unique services, partition and VPC block; every upstream exists), before anything is
written; the folder appears whole or not at all.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from soa_sdk.errors import Conflict, SpecificationError, ValidationError
from soa_sdk.paths import terraform_root
from soa_sdk.tf import lab_spec as tfspec
from soa_sdk.tf.lab_spec import RuntimeSpec, ServiceSpec

DEFAULT_IMAGE = "nicholasjackson/fake-service:v0.26.2"


def templates_root(root: Path | str | None = None) -> Path:
    """``terraform/templates/runtime`` of the given (or the project's) Terraform root."""
    return (Path(root) if root is not None else terraform_root()) / "templates" / "runtime"


def service(
    name: str,
    *,
    port: int = 9090,
    protocol: str = "http",
    versions: Iterable[str] = ("v1",),
    upstreams: Iterable[str] = (),
    traffic: Mapping[str, int] | None = None,
    replicas: int = 2,
    image: str = DEFAULT_IMAGE,
) -> ServiceSpec:
    """A :class:`ServiceSpec` with the lab's usual values (all traffic to the first version)."""
    versions = tuple(versions)
    weights = dict(traffic) if traffic is not None else {versions[0]: 100} if versions else {}
    return ServiceSpec(name, port, protocol, versions, tuple(upstreams), weights, replicas, image)


def runtime_spec(
    name: str,
    kind: str,
    region: str,
    *,
    vpc_cidr: str,
    account: str | None = None,
    consul_partition: str | None = None,
    services: Iterable[ServiceSpec | Mapping[str, Any]] = (),
) -> RuntimeSpec:
    """Build and validate a :class:`RuntimeSpec`. ``account`` defaults to the runtime's name
    and ``consul_partition`` to the name without its ``runtime-`` prefix."""
    built = tuple(s if isinstance(s, ServiceSpec) else service(**dict(s)) for s in services)
    runtime = RuntimeSpec(
        name=name,
        kind=kind,
        account=account if account is not None else name,
        region=region,
        vpc_cidr=vpc_cidr,
        consul_partition=consul_partition
        if consul_partition is not None
        else name.removeprefix("runtime-"),
        services=built,
    )
    tfspec.validate_runtime(runtime)
    return runtime


def render_runtime_folder(
    runtime: RuntimeSpec, *, templates: Path | str | None = None
) -> dict[str, str]:
    """The files of the runtime's folder, by file name: the kind's template files and
    ``runtime.auto.tfvars.json``. Nothing is written."""
    tfspec.validate_runtime(runtime)
    source = Path(templates) if templates is not None else templates_root()
    files: dict[str, str] = {}
    for part in ("common", runtime.kind):
        folder = source / part
        if not folder.is_dir():
            raise SpecificationError(f"The runtime template {folder} is missing.")
        for path in sorted(folder.glob("*.tf")):
            if path.name in files:
                raise SpecificationError(f"The template file {path.name} exists twice.")
            files[path.name] = path.read_text()
    files[tfspec.RUNTIME_FILE] = runtime.to_json()
    return files


def next_vpc_cidr(mesh: tfspec.MeshSpec, base: str = "10.0.0.0/8") -> str:
    """The first /16 of ``base`` that no runtime uses, skipping 10.0.0.0/16 (shared services)."""
    taken = [ipaddress.IPv4Network(r.vpc_cidr) for r in mesh.runtimes]
    for candidate in list(ipaddress.IPv4Network(base).subnets(new_prefix=16))[1:]:
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise ValidationError(f"No /16 of {base} is left for a new runtime.")


def write_runtime_folder(
    runtime: RuntimeSpec,
    root: Path | str | None = None,
    *,
    account_names: Iterable[str] | None = None,
) -> Path:
    """Write ``<root>/<runtime.folder>/`` (root: the project's ``terraform/``) and return it.

    Raises before writing anything: :class:`ValidationError` for a bad name or field, or a
    mesh the new runtime would break (a service name taken, an unknown upstream, an
    overlapping VPC block, a partition in use); :class:`Conflict` if the folder exists;
    :class:`SpecificationError` if ``root`` has no ``modules/`` for the folder to use or
    ``account_names`` (the organization's accounts) lacks the runtime's account.
    """
    root = Path(root) if root is not None else terraform_root()
    tfspec.validate_runtime(runtime)
    target = root / runtime.folder
    if target.exists():
        raise Conflict(f"{target} already exists; choose another runtime name.")
    if not (root / "modules").is_dir():
        raise SpecificationError(f"{root} has no modules/ folder for the runtime to use.")
    existing = tfspec.load_mesh(root)
    combined = tfspec.MeshSpec((*existing.runtimes, runtime))
    tfspec.validate_mesh(combined)
    if account_names is not None:
        tfspec.check_accounts(combined, tuple(account_names))
    files = render_runtime_folder(runtime, templates=templates_root(root))

    # Write into a hidden sibling, then rename: the folder appears whole or not at all.
    staging = Path(tempfile.mkdtemp(prefix=f".{runtime.folder}-", dir=root))
    try:
        for name, text in files.items():
            (staging / name).write_text(text)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
