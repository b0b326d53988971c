"""Create then destroy a second runtime (runtime-eks): nothing of it is left, in AWS, in
Consul or in the workload host; and step 2 then reports it as gone."""

from __future__ import annotations

from typing import Any

import pytest

from soa_sdk.errors import NotFound
from soa_sdk.runtime.mesh import REGISTRY_PREFIX

NAME = "runtime-eks"
pytestmark = pytest.mark.slow  # builds a whole second runtime (8 s the first time)


def leftovers(lab: Any) -> dict[str, Any]:
    spec = lab.runtime.spec(NAME)
    session = lab.org.session(spec.account)
    ec2 = session.client("ec2", region_name=spec.region)
    tagged = [{"Name": "tag:Runtime", "Values": [NAME]}]  # the folder's default_tags
    names = [s.name for s in spec.services]
    entries = []
    for kind in ("service-defaults", "service-intentions", "ingress-gateway"):
        for name in [*names, f"{NAME}-ingress"]:
            try:
                if lab.consul.get_config(kind, name, spec.consul_partition):
                    entries.append(f"{kind}:{name}")
            except NotFound:
                pass  # the partition itself is gone
    _, registered = lab.consul.client.kv.get(REGISTRY_PREFIX + NAME)
    return {
        "vpcs": ec2.describe_vpcs(Filters=tagged)["Vpcs"],
        "subnets": ec2.describe_subnets(Filters=tagged)["Subnets"],
        "security_groups": ec2.describe_security_groups(Filters=tagged)["SecurityGroups"],
        "clusters": [
            c
            for c in session.client("eks", region_name=spec.region).list_clusters()["clusters"]
            if c == NAME
        ],
        "roles": [
            r["RoleName"]
            for r in session.client("iam").list_roles()["Roles"]
            if r["RoleName"].startswith(NAME)
        ],
        "partition": [
            p["Name"]
            for p in lab.consul.request("GET", "partitions")
            if p["Name"] == spec.consul_partition
        ],
        "entries": entries,
        "workloads": [w["id"] for w in lab.workloads.list() if w.get("runtime") == NAME],
        "registered": registered is not None,
    }


@pytest.fixture
def restore_the_mesh(lab: Any) -> Any:
    """Other tests call customers on runtime-eks through store: bring it back afterwards."""
    yield
    lab.runtime.create("runtime-ecs")  # with the runtimes it calls, runtime-eks included


def test_create_then_destroy_leaves_nothing(lab: Any, restore_the_mesh: Any) -> None:
    lab.org.require()
    report = lab.runtime.create(NAME)
    present = leftovers(lab)
    assert present["vpcs"] and present["clusters"] == [NAME] and present["registered"]
    assert present["workloads"] and present["partition"] == [report.partition]
    assert "customers" in set(lab.observe.health(NAME).column("service"))

    removed = lab.runtime.destroy(NAME)
    assert removed
    gone = leftovers(lab)
    assert gone == {
        "vpcs": [],
        "subnets": [],
        "security_groups": [],
        "clusters": [],
        "roles": [],
        "partition": [],
        "entries": [],
        "workloads": [],
        "registered": False,
    }
    with pytest.raises(NotFound, match="create it first"):
        lab.observe.health(NAME)
