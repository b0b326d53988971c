"""The `Resources` of an event: which resources a call names.

CloudTrail fills `Resources` for the resource types it knows (the AWS Config resource type
and the resource's name or ARN). We derive them from the (already lowerCamelCase) request
parameters and response elements: well-known parameter names per service, and any ARN value.
"""

from __future__ import annotations

from typing import Any

# (service model name or "*", parameter name) -> resource type
_BY_PARAM: dict[tuple[str, str], str] = {
    ("s3", "bucketName"): "AWS::S3::Bucket",
    ("iam", "roleName"): "AWS::IAM::Role",
    ("iam", "userName"): "AWS::IAM::User",
    ("iam", "groupName"): "AWS::IAM::Group",
    ("iam", "policyArn"): "AWS::IAM::Policy",
    ("*", "roleArn"): "AWS::IAM::Role",
    ("lambda", "functionName"): "AWS::Lambda::Function",
    ("secretsmanager", "name"): "AWS::SecretsManager::Secret",
    ("secretsmanager", "secretId"): "AWS::SecretsManager::Secret",
    ("eks", "name"): "AWS::EKS::Cluster",
    ("ecs", "clusterName"): "AWS::ECS::Cluster",
    ("ecs", "cluster"): "AWS::ECS::Cluster",
    ("ecs", "serviceName"): "AWS::ECS::Service",
    ("ecs", "service"): "AWS::ECS::Service",
    ("ecs", "taskDefinition"): "AWS::ECS::TaskDefinition",
    ("ec2", "instanceId"): "AWS::EC2::Instance",
    ("ec2", "vpcId"): "AWS::EC2::VPC",
    ("ec2", "subnetId"): "AWS::EC2::Subnet",
    ("ec2", "groupId"): "AWS::EC2::SecurityGroup",
    ("autoscaling", "autoScalingGroupName"): "AWS::AutoScaling::AutoScalingGroup",
    ("elbv2", "loadBalancerArn"): "AWS::ElasticLoadBalancingV2::LoadBalancer",
    ("elbv2", "targetGroupArn"): "AWS::ElasticLoadBalancingV2::TargetGroup",
    ("elbv2", "listenerArn"): "AWS::ElasticLoadBalancingV2::Listener",
    ("logs", "logGroupName"): "AWS::Logs::LogGroup",
    ("cloudwatch", "alarmName"): "AWS::CloudWatch::Alarm",
    ("cloudtrail", "name"): "AWS::CloudTrail::Trail",
    ("organizations", "accountId"): "AWS::Organizations::Account",
    ("organizations", "organizationalUnitId"): "AWS::Organizations::OrganizationalUnit",
    ("organizations", "policyId"): "AWS::Organizations::Policy",
    ("kms", "keyId"): "AWS::KMS::Key",
    ("ssm", "name"): "AWS::SSM::Parameter",
    ("dynamodb", "tableName"): "AWS::DynamoDB::Table",
    ("sqs", "queueUrl"): "AWS::SQS::Queue",
    ("sns", "topicArn"): "AWS::SNS::Topic",
    ("ecr", "repositoryName"): "AWS::ECR::Repository",
}
_MAX = 20


def resources(service: str, *sources: dict[str, Any] | None) -> list[dict[str, str]]:
    """[{ResourceType, ResourceName}] named by the given parameter dictionaries."""
    found: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(rtype: str, name: str) -> None:
        if (rtype, name) not in seen and len(found) < _MAX:
            seen.add((rtype, name))
            found.append({"ResourceType": rtype, "ResourceName": name})

    for source in sources:
        for key, value in _walk(source or {}):
            if not isinstance(value, str) or not value:
                continue
            rtype = _BY_PARAM.get((service, key)) or _BY_PARAM.get(("*", key))
            if rtype:
                add(rtype, value)
            elif value.startswith("arn:aws") and key.endswith("Arn"):
                add(arn_type(value), value)
    return found


def arn_type(arn: str) -> str:
    """A resource type guessed from an ARN: `arn:aws:iam::1:role/x` -> `AWS::IAM::Role`."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "AWS::Unknown"
    service, resource = parts[2], parts[5]
    has_kind = "/" in resource or ":" in resource
    kind = resource.split("/", 1)[0].split(":", 1)[0] if has_kind else ""
    svc = {"iam": "IAM", "sts": "STS", "ec2": "EC2", "ecs": "ECS", "eks": "EKS", "s3": "S3"}.get(
        service, service.capitalize()
    )
    name = "".join(w.capitalize() for w in kind.replace("_", "-").split("-")) or "Resource"
    return f"AWS::{svc}::{name}"


def _walk(node: Any, depth: int = 0) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if depth > 4:
        return out
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((str(k), v))
            if isinstance(v, dict | list):
                out.extend(_walk(v, depth + 1))
    elif isinstance(node, list):
        for v in node:
            out.extend(_walk(v, depth + 1))
    return out
