"""Step 4, secure access: just-in-time access to the prod database through Boundary, with
credentials brokered from Vault, and recorded sessions an auditor replays.

``lab.access`` is an :class:`Access`; see :mod:`soa_sdk.access.step` for the endpoints used.
Modules: :mod:`.client` (HTTP to Boundary), :mod:`.errors` (Boundary's errors, mapped in one
place), :mod:`.provision` (``lab.tf`` applies ``shared_services/vault`` and
``shared_services/boundary``; what Terraform does not do), :mod:`.boundary_setup` (roles
beyond the declared ones, the sandbox's session recording), :mod:`.database` (the sandbox's
rows to query and checks of the users Vault made), :mod:`.grants` (expiring memberships),
:mod:`.store` (what outlives a process, in Vault), :mod:`.values` (what the methods return;
secrets hidden).
"""

from soa_sdk.access.errors import (
    BoundaryError,
    BoundaryInvalidRequest,
    BoundaryNotFound,
    BoundaryPermissionDenied,
    BoundaryUnauthenticated,
    BoundaryUnavailable,
)
from soa_sdk.access.step import MAX_MINUTES, MIN_MINUTES, Access, check_minutes
from soa_sdk.access.values import (
    Authorization,
    BrokeredCredential,
    Grant,
    ProxyAddress,
    Refusal,
    Revocation,
    SetupReport,
    TeardownReport,
    UserToken,
)

__all__ = [
    "MAX_MINUTES",
    "MIN_MINUTES",
    "Access",
    "Authorization",
    "BoundaryError",
    "BoundaryInvalidRequest",
    "BoundaryNotFound",
    "BoundaryPermissionDenied",
    "BoundaryUnauthenticated",
    "BoundaryUnavailable",
    "BrokeredCredential",
    "Grant",
    "ProxyAddress",
    "Refusal",
    "Revocation",
    "SetupReport",
    "TeardownReport",
    "UserToken",
    "check_minutes",
]
