"""The local ``hashicorp/aws`` provider: every resource and data source type it serves.

One module per AWS service family (:mod:`.organizations`, :mod:`.kms`, :mod:`.s3`,
:mod:`.cloudtrail`, :mod:`.vpc`, :mod:`.routing`, :mod:`.security_groups`, :mod:`.logs`,
:mod:`.iam`, :mod:`.ecs`, :mod:`.ecs_services`, :mod:`.eks`, :mod:`.launch_templates`,
:mod:`.autoscaling`, :mod:`.cloudfront`, :mod:`.cloudfront_distribution`,
:mod:`.wafv2`, :mod:`.data_sources`) on :mod:`.base`
(configuration, credentials, clients, tags); the schema of them all is ``schema.json``.
"""

from __future__ import annotations

from typing import ClassVar

from soa_sdk.sandbox.providers.aws.autoscaling import AutoScalingGroup
from soa_sdk.sandbox.providers.aws.base import SCHEMA_FILE, AwsProvider
from soa_sdk.sandbox.providers.aws.cloudfront import (
    CachePolicyData,
    OriginAccessControl,
    OriginRequestPolicyData,
    ResponseHeadersPolicy,
)
from soa_sdk.sandbox.providers.aws.cloudfront_distribution import Distribution
from soa_sdk.sandbox.providers.aws.cloudtrail import Trail
from soa_sdk.sandbox.providers.aws.data_sources import (
    AvailabilityZones,
    CallerIdentity,
    Partition,
    PolicyDocument,
    Region,
    SsmParameter,
)
from soa_sdk.sandbox.providers.aws.ecs import Cluster, ClusterCapacityProviders, TaskDefinition
from soa_sdk.sandbox.providers.aws.ecs_services import Service
from soa_sdk.sandbox.providers.aws.eks import EksCluster, EksNodeGroup
from soa_sdk.sandbox.providers.aws.iam import (
    InstanceProfile,
    OpenIdConnectProvider,
    Role,
    RolePolicy,
    RolePolicyAttachment,
)
from soa_sdk.sandbox.providers.aws.kms import KmsAlias, KmsKey
from soa_sdk.sandbox.providers.aws.launch_templates import LaunchTemplate
from soa_sdk.sandbox.providers.aws.logs import FlowLog, LogGroup
from soa_sdk.sandbox.providers.aws.organizations import (
    Account,
    Organization,
    OrganizationalUnit,
    Policy,
    PolicyAttachment,
)
from soa_sdk.sandbox.providers.aws.routing import Route, RouteTable, RouteTableAssociation
from soa_sdk.sandbox.providers.aws.s3 import (
    Bucket,
    BucketPolicy,
    LifecycleConfiguration,
    OwnershipControls,
    PublicAccessBlock,
    ServerSideEncryption,
    Versioning,
)
from soa_sdk.sandbox.providers.aws.security_groups import (
    DefaultSecurityGroup,
    EgressRule,
    IngressRule,
    SecurityGroup,
)
from soa_sdk.sandbox.providers.aws.vpc import Eip, InternetGateway, NatGateway, Subnet, Vpc
from soa_sdk.sandbox.providers.aws.wafv2 import WebAcl, WebAclLoggingConfiguration
from soa_sdk.sandbox.providers.framework import (
    DataSource,
    Resource,
)

__all__ = ["SCHEMA_FILE", "AwsProvider", "LocalAwsProvider"]


class LocalAwsProvider(AwsProvider):
    resource_types: ClassVar[list[type[Resource]]] = [
        Organization,
        OrganizationalUnit,
        Account,
        Policy,
        PolicyAttachment,
        KmsKey,
        KmsAlias,
        Bucket,
        PublicAccessBlock,
        OwnershipControls,
        Versioning,
        ServerSideEncryption,
        LifecycleConfiguration,
        BucketPolicy,
        Trail,
        # runtime_ecs: modules/network, ecs_runtime, workload_identity
        Vpc,
        Subnet,
        InternetGateway,
        Eip,
        NatGateway,
        RouteTable,
        Route,
        RouteTableAssociation,
        SecurityGroup,
        DefaultSecurityGroup,
        IngressRule,
        EgressRule,
        LogGroup,
        FlowLog,
        Role,
        RolePolicy,
        RolePolicyAttachment,
        OpenIdConnectProvider,
        Cluster,
        ClusterCapacityProviders,
        TaskDefinition,
        Service,
        # runtime_eks: modules/eks_runtime
        EksCluster,
        EksNodeGroup,
        LaunchTemplate,
        # runtime_ec2: modules/ec2_runtime
        AutoScalingGroup,
        InstanceProfile,
        # runtime_frontend: modules/static_site
        OriginAccessControl,
        ResponseHeadersPolicy,
        Distribution,
        WebAcl,
        WebAclLoggingConfiguration,
    ]
    data_source_types: ClassVar[list[type[DataSource]]] = [
        Partition,
        CallerIdentity,
        Region,
        PolicyDocument,
        AvailabilityZones,
        SsmParameter,
        CachePolicyData,
        OriginRequestPolicyData,
    ]
