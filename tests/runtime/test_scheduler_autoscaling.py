"""The sandbox's scheduler runs what EC2 Auto Scaling groups in moto launch.

Each test makes a launch template whose user data is the ``ec2_runtime`` module's boot script
(rendered as Terraform's ``templatefile`` renders it) and an Auto Scaling group through boto3
in a runtime's account, then reads the outcome from Consul's health API only; nothing asks
the workload host to start anything.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import scheduler_waits

RUNTIME = "runtime-ecs"  # its account and Consul partition host the probe group
PARTITION = "ecs"
SERVICE = "stockroom"
WAIT = 60.0  # generous: the outcome, not its speed, is tested


def boot_script(version: str, message_runtime: str) -> str:
    """``templates/user_data.sh.tftpl`` rendered for one service with no upstreams."""
    return f"""#!/bin/bash
# Boot script of one {SERVICE}-{version} instance.
set -euo pipefail

mkdir -p /etc/consul.d /etc/fake-service
cat > /etc/consul.d/client.hcl <<'CONSUL'
datacenter = "dc1"
partition  = "{PARTITION}"
retry_join = ["consul.internal"]
auto_encrypt {{ tls = true }}
ports {{ grpc_tls = 8503 }}
CONSUL

cat > /etc/consul.d/{SERVICE}.hcl <<'SERVICE'
service {{
  name = "{SERVICE}"
  port = 9090
  meta = {{ version = "{version}" }}
  check {{
    http     = "http://127.0.0.1:9090/health"
    interval = "10s"
  }}
  connect {{
    sidecar_service {{
      proxy {{
      }}
    }}
  }}
}}
SERVICE

cat > /etc/fake-service/env <<'ENV'
NAME={SERVICE}
MESSAGE={SERVICE} {version} on {message_runtime}
LISTEN_ADDR=127.0.0.1:9090
UPSTREAM_URIS=
ENV

systemctl enable --now consul fake-service envoy-sidecar
"""


def user_data(version: str) -> str:
    return base64.b64encode(boot_script(version, "runtime-asg-probe").encode()).decode()


def until(check: Callable[[], Any], what: str) -> Any:
    return scheduler_waits.until(check, what, WAIT)


def passing(lab: Any) -> dict[str, dict[str, Any]]:
    entries = lab.consul.request(
        "GET", f"health/service/{SERVICE}", params={"passing": "1", "partition": PARTITION}
    )
    return {e["Service"]["ID"]: e["Service"] for e in entries}


@pytest.fixture(scope="module")
def group(lab: Any) -> Iterator[tuple[Any, Any, str]]:
    """A launch template and an Auto Scaling group at capacity 0 on ``$Latest``."""
    lab.org.require()
    lab.runtime.require(RUNTIME)
    spec = lab.runtime.spec(RUNTIME)
    session = lab.org.session(spec.account)
    ec2 = session.client("ec2", region_name=spec.region)
    autoscaling = session.client("autoscaling", region_name=spec.region)
    template = ec2.create_launch_template(
        LaunchTemplateName="asg-probe",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "UserData": user_data("v1")},
    )["LaunchTemplate"]
    name = "runtime-asg-probe-stockroom"
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Latest"},
        MinSize=0,
        MaxSize=4,
        DesiredCapacity=0,
        AvailabilityZones=[f"{spec.region}a"],
    )
    yield ec2, autoscaling, name
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
    ec2.delete_launch_template(LaunchTemplateId=template["LaunchTemplateId"])
    until(lambda: not passing(lab), "the deleted group's instances gone")


def test_scaling_a_group_up_and_to_zero_changes_what_serves(lab: Any, group: Any) -> None:
    _, autoscaling, name = group
    assert passing(lab) == {}
    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)
    grown = until(lambda: len(passing(lab)) == 2 and passing(lab), "2 instances in Consul")
    for service in grown.values():
        assert service["Meta"]["version"] == "v1"
        assert service["Meta"].get("runtime") == "runtime-asg-probe", service["Meta"]
    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    until(lambda: not passing(lab), "no instance left at capacity 0")


def test_a_new_launch_template_version_rolls_the_instances(lab: Any, group: Any) -> None:
    ec2, autoscaling, name = group
    template = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=1)
    try:
        before = until(lambda: len(passing(lab)) == 1 and passing(lab), "1 instance")
        ec2.create_launch_template_version(
            LaunchTemplateId=template,
            LaunchTemplateData={"ImageId": "ami-12c6146b", "UserData": user_data("v2")},
        )
        after = until(
            lambda: (now := passing(lab)).keys().isdisjoint(before) and len(now) == 1 and now,
            "the instance replaced by the new version's",
        )
        assert [s["Meta"]["version"] for s in after.values()] == ["v2"]
    finally:
        autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=0)
    until(lambda: not passing(lab), "no instance left")
