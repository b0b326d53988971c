"""Vault-side setup of the lab (step 4, secure access), thin over hvac.

- :mod:`soa_sdk.vault.database`: the database secrets engine for PostgreSQL (short-lived users,
  leases, the narrow policy and orphan periodic token of Boundary's credential store);
- :mod:`soa_sdk.vault.identity`: Vault identity (OIDC) tokens exchanged through STS
  ``AssumeRoleWithWebIdentity`` for AWS credentials, with no static keys;
- :mod:`soa_sdk.vault.errors`: the one place hvac and botocore failures become readable errors.
"""

from soa_sdk.vault.database import (
    DatabaseLease,
    DatabaseRole,
    DatabaseSecrets,
    PostgresConnection,
)
from soa_sdk.vault.errors import (
    AwsExchangeError,
    InvalidSettingError,
    InvalidTTLError,
    VaultAuthError,
    VaultInvalidRequest,
    VaultNotFound,
    VaultPermissionDenied,
    VaultSetupError,
    VaultUnavailable,
)
from soa_sdk.vault.identity import (
    IdentityToken,
    Workload,
    WorkloadIdentity,
    assume_role_with_web_identity,
    issuer_host_path,
    register_in_aws,
    token_issuer,
    trust_policy,
    verify_token,
)

__all__ = [
    "AwsExchangeError",
    "DatabaseLease",
    "DatabaseRole",
    "DatabaseSecrets",
    "IdentityToken",
    "InvalidSettingError",
    "InvalidTTLError",
    "PostgresConnection",
    "VaultAuthError",
    "VaultInvalidRequest",
    "VaultNotFound",
    "VaultPermissionDenied",
    "VaultSetupError",
    "VaultUnavailable",
    "Workload",
    "WorkloadIdentity",
    "assume_role_with_web_identity",
    "issuer_host_path",
    "register_in_aws",
    "token_issuer",
    "trust_policy",
    "verify_token",
]
