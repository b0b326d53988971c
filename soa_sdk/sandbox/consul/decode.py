"""Decode request bodies the way Consul does: field names are case-insensitive.

Go's ``encoding/json`` matches field names case-insensitively, so python-consul2 sending
``{"name": "web", "check": {"http": ...}}`` registers the same service as ``{"Name": "web"}``;
config entries are decoded with mapstructure, which also accepts ``snake_case``
(``default_subset``). :func:`canonicalize` rewrites every known field name to Consul's
spelling, leaving user-keyed maps (``Meta``, proxy ``Config``, header maps) untouched.
"""

from __future__ import annotations

import json
from typing import Any

from .exceptions import RequestDecodeFailed

_FIELDS = """
ID Name Service Services Tags Meta Port Address SocketPath TaggedAddresses Weights Passing Warning
EnableTagOverride Kind Proxy Connect Native SidecarService Check Checks CheckID CheckId Status Notes
Output ServiceID ServiceName ServiceTags Type Interval Timeout TTL HTTP Header Method Body
TLSServerName TLSSkipVerify TCP TCPUseTLS UDP GRPC GRPCUseTLS H2PING Args ScriptArgs
DockerContainerID Shell AliasNode AliasService OSService SuccessBeforePassing FailuresBeforeWarning
FailuresBeforeCritical DeregisterCriticalServiceAfter Definition DisableRedirects OutputMaxSize
DestinationServiceName DestinationServiceID LocalServiceAddress LocalServicePort
LocalServiceSocketPath Mode TransparentProxy OutboundListenerPort DialedDirectly Config Upstreams
DestinationType DestinationNamespace DestinationPartition DestinationPeer DestinationName
Datacenter LocalBindAddress LocalBindPort LocalBindSocketPath LocalBindSocketMode MeshGateway
CentrallyConfigured Expose Checks Paths Path LocalPathPort ListenerPort Protocol AccessLogs
Node NodeMeta NodeID SkipNodeUpdate Partition Namespace Namespaces PeerName Peer Description
Rules Datacenters Policies Roles ServiceIdentities NodeIdentities Local ExpirationTTL
ExpirationTime AccessorID SecretID TemplatedPolicies CreateIndex ModifyIndex LockIndex Key Flags
Value Session Protocol MutualTLSMode ExternalSNI UpstreamConfig Overrides Defaults Destination
Addresses MaxInboundConnections LocalConnectTimeoutMs LocalRequestTimeoutMs
BalanceInboundConnections RateLimits EnvoyExtensions Required Arguments ConsulVersion EnvoyVersion
FailoverPolicy PrioritizeByLocality DefaultSubset Subsets Filter OnlyPassing Redirect
ServiceSubset SamenessGroup Failover Targets ConnectTimeout RequestTimeout LoadBalancer Policy
RingHashConfig MinimumRingSize MaximumRingSize LeastRequestConfig ChoiceCount HashPolicies Field
FieldValue CookieConfig Terminal SourceIP Splits Weight RequestHeaders ResponseHeaders Add Set
Remove Routes Match PathExact PathPrefix PathRegex Present Exact Prefix Suffix Regex Invert
QueryParam Methods PrefixRewrite IdleTimeout NumRetries RetryOnConnectFailure RetryOnStatusCodes
RetryOn Sources Action Permissions Precedence LegacyID LegacyMeta LegacyCreateTime
LegacyUpdateTime JWT Providers Consumers Listeners Hosts TLS Enabled SDS ClusterName
CertResource Defaults MeshDestinationsOnly AllowEnablingPermissiveMutualTLS Incoming Outgoing
TLSMinVersion TLSMaxVersion CipherSuites SanitizeXForwardedClientCert Peering
PeerThroughMeshGateways ValidateClusters PassiveHealthCheck Limits MaxConnections
MaxPendingRequests MaxConcurrentRequests SourceName DestinationNS SourceNS SourceType
SourcePartition SourcePeer PeeringToken ServerExternalAddresses DeletedAt Token Op Verb
SourceIntention Header Hash CreateTime
LockDelay Behavior NodeChecks ServiceChecks KV Index Coord Vec Error Adjustment Height Segment
CleanupDeadServers LastContactThreshold MaxTrailingLogs MinQuorum ServerStabilizationTime
RedundancyZoneTag DisableUpgradeMigration UpgradeVersionTag AuthMethod BearerToken BindType
BindName BindVars Selector DisplayName MaxTokenTTL TokenLocality TemplateName TemplateVariables
Template Regexp RemoveEmptyTags NearestN IgnoreCheckIDs Near DNS ServiceMeta
"""

CANONICAL: dict[str, str] = {}
for _name in _FIELDS.split():
    CANONICAL.setdefault(_name.lower(), _name)
CANONICAL["checkid"] = "CheckID"
CANONICAL["serviceid"] = "ServiceID"

# Maps whose keys belong to the user: keep keys and values as sent.
OPAQUE = {
    "Meta",
    "NodeMeta",
    "ServiceMeta",
    "Config",
    "LegacyMeta",
    "Add",
    "Set",
    "Arguments",
    "Value",
}
# Maps whose keys belong to the user but whose values are Consul structs.
KEYED = {"Subsets", "Failover", "TaggedAddresses", "ServiceTaggedAddresses"}


def canonical_key(key: str) -> str:
    """Consul's spelling of a field name sent in any case or in snake_case."""
    return CANONICAL.get(key.lower().replace("_", ""), key)


def canonicalize(value: Any) -> Any:
    """Rewrite known field names of a decoded JSON document to Consul's spelling."""
    if isinstance(value, list):
        return [canonicalize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, val in value.items():
        ckey = canonical_key(key) if isinstance(key, str) else key
        if ckey in OPAQUE or (ckey == "Header" and isinstance(val, dict)):
            out[ckey] = val
        elif ckey in KEYED and isinstance(val, dict):
            out[ckey] = {k: canonicalize(v) for k, v in val.items()}
        else:
            out[ckey] = canonicalize(val)
    return out


def decode_body(
    raw: bytes, spelling: str = "Request decode failed", allow_empty: bool = False
) -> Any:
    """Parse a JSON body and canonicalize it; raise Consul's 400 when it is not JSON."""
    if not raw or not raw.strip():
        if allow_empty:
            return None
        raise RequestDecodeFailed("EOF", spelling)
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RequestDecodeFailed(str(exc), spelling) from exc
    return canonicalize(doc)
