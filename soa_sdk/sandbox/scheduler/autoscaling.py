"""What an EC2 Auto Scaling group runs: ``DesiredCapacity`` instances of its launch template
version, each one what the version's user data boots.

The user data is the boot script of ``terraform/modules/ec2_runtime`` (its
``templates/user_data.sh.tftpl``), base64 as ``CreateLaunchTemplateVersion`` takes
``LaunchTemplateData.UserData``. The instance learns its workload the way that script
configures the real one, from the three files the script writes with quoted here-documents:

- ``/etc/consul.d/client.hcl``: the Consul agent's ``partition`` (``default`` when absent);
- ``/etc/consul.d/NAME.hcl``: the service block's ``name``, ``port``, ``meta`` ``version``
  (``v1`` when absent) and the sidecar's ``upstreams`` (``destination_name``, optionally
  ``destination_partition`` / ``destination_peer``; with neither the upstream is in the
  agent's partition, as Consul takes an upstream with no ``DestinationPartition``);
- ``/etc/fake-service/env``: fake-service's ``NAME``, ``MESSAGE`` (its ``... on RUNTIME``
  tail names the runtime, else the group's ``Runtime`` tag, else the group's name),
  ``ERROR_RATE`` / ``ERROR_CODE`` and ``TIMING_*_PERCENTILE``.

A group's instances are keyed ``autoscaling/ACCOUNT/REGION/GROUP`` and their revision is the
launch template's id and version number, so a new version (a group on ``$Latest``, or the
group updated to name it) rolls them as an instance refresh would, new ones first.

Left out: the instance type, AMI and network (every instance is a process on the workload
host, on a free port rather than the script's ``port``, with free local ports for its
upstreams), mixed instances policies, launch configurations, lifecycle hooks, min/max
clamping (moto keeps the desired capacity in range), the instance refresh's
``MinHealthyPercentage`` (new ones are started before the old ones stop).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from soa_sdk.sandbox.scheduler.placements import Placement, behaviour

_HEREDOC = re.compile(r"cat\s+>\s*(\S+)\s*<<-?\s*'?(\w+)'?\s*\n(.*?)\n\2\s*$", re.S | re.M)
_ASSIGN = re.compile(r'^\s*(\w+)\s*=\s*"?([^"\n]*?)"?\s*$', re.M)
_UPSTREAM = re.compile(r"upstreams\s*\{([^}]*)\}")
_META = re.compile(r"meta\s*=\s*\{([^}]*)\}")


def group_key(group: dict[str, Any]) -> str:
    return "/".join(
        ("autoscaling", group["account"], group["region"], group["autoScalingGroupName"])
    )


def group_placements(snapshot: dict[str, Any]) -> tuple[list[Placement], list[str]]:
    """The placements the snapshot's Auto Scaling groups ask for (capacity 0 included)."""
    found, problems = [], []
    for group in snapshot.get("autoscaling") or []:
        template = group.get("launchTemplate")
        key = group_key(group)
        if not template:
            problems.append(f"{key}: no launch template version to launch")
            continue
        revision = f"{template['id']}:{template['version']}"
        try:
            spec = boot_spec(template.get("userData") or "", group)
        except ValueError as error:
            problems.append(f"{key}: {revision}: {error}")
            continue
        where = {k: str(group[k]) for k in ("account", "region", "autoScalingGroupName")}
        found.append(
            Placement(
                key,
                revision,
                int(group.get("desiredCapacity") or 0),
                spec,
                where,
                scheduler="autoscaling",
            )
        )
    return found, problems


def _files(script: str) -> dict[str, str]:
    return {path: body for path, _, body in _HEREDOC.findall(script)}


def _assignments(text: str) -> dict[str, str]:
    return {k: v.strip() for k, v in _ASSIGN.findall(text)}


def _pairs(text: str) -> dict[str, str]:
    """``a = "x", b = 2`` (one line of HCL attributes) -> ``{"a": "x", "b": "2"}``."""
    found = {}
    for item in re.split(r"[,\n]", text):
        if "=" in item:
            key, value = item.split("=", 1)
            found[key.strip()] = value.strip().strip('"')
    return found


def boot_spec(user_data: str, group: dict[str, Any]) -> dict[str, Any]:
    """The workload host's start request for the instance the user data boots."""
    try:
        script = base64.b64decode(user_data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(f"user data is not base64 text: {error}") from None
    files = _files(script)
    client = files.get("/etc/consul.d/client.hcl", "")
    env_file = files.get("/etc/fake-service/env")
    services = [b for p, b in files.items() if p.startswith("/etc/consul.d/") and "service" in b
                and not p.endswith("/client.hcl")]  # fmt: skip
    if env_file is None or not services:
        raise ValueError("user data writes no service definition and fake-service env")
    service = services[0]
    env = dict(line.split("=", 1) for line in env_file.splitlines() if "=" in line)
    head = service.split("connect", 1)[0]
    attributes = _assignments(head)
    meta_block = _META.search(head)
    meta = _pairs(meta_block.group(1)) if meta_block else {}
    name = attributes.get("name") or env.get("NAME")
    if not name:
        raise ValueError("the service has no name")
    version = meta.get("version") or "v1"
    partition = _assignments(client).get("partition") or "default"
    message = env.get("MESSAGE") or f"{name} {version}"
    runtime = (
        message.rsplit(" on ", 1)[1].strip()
        if " on " in message
        else (group.get("tags") or {}).get("Runtime") or group["autoScalingGroupName"]
    )
    upstreams = []
    for block in _UPSTREAM.findall(service):
        fields = _pairs(block)
        if not fields.get("destination_name"):
            continue
        upstream = {"name": fields["destination_name"]}
        if fields.get("destination_partition"):
            upstream["partition"] = fields["destination_partition"]
        if fields.get("destination_peer"):
            upstream["peer"] = fields["destination_peer"]
        upstreams.append(upstream)
    spec: dict[str, Any] = {
        "name": name,
        "version": version,
        "partition": partition,
        "runtime": runtime,
        "upstreams": upstreams,
        "message": message,
    }
    return {**spec, **behaviour(env)}
