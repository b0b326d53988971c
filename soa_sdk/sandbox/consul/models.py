"""The emulated Consul cluster: :class:`ConsulBackend`, one method per operation.

One backend is one datacenter of one server that is also the only client agent (like
``consul agent -dev``), with Consul Enterprise's tenancy: admin partitions (``default`` always
exists), a namespace field that is always ``default``, cluster peerings as named links between
partitions of this backend. The state lives in :mod:`.state`, one module per resource family;
every write goes through :meth:`~.state.core.Store.write`, which bumps a raft-like index
(monotonic, never reset) and the index of the tables it changed; blocking reads wait on those.

Methods take ``authz`` (an :class:`~.acl.Authorizer`); ``None`` means "trusted in-process
caller" (the xDS controller, tests), which may do anything. Reads filter what the token may
not see, writes refuse with :class:`~.exceptions.PermissionDenied` before changing anything.

Not implemented: namespaces other than ``default``, refused as Consul CE refuses them
(``?ns=``, ``X-Consul-Namespace``, a config entry's or legacy intention's namespace fields;
ACL rules' ``namespace`` blocks grant nothing, see :mod:`.acl`),
``near``/``node-meta`` sorting and filters, ``stale``/``consistent``
(always leader reads); auth method types other than ``jwt`` (see :mod:`.state.acl_auth`: the
sandbox's workloads log in with OpenBao JWTs where the talk's tasks use ``aws-iam`` or
``kubernetes``).
"""

from __future__ import annotations

import uuid

from . import acl as aclmod
from .checks import CheckRunner
from .exceptions import ConsulError
from .state.acl import ACLState
from .state.agent_health import AgentHealthState
from .state.config import check_namespace
from .state.connect import ConnectState
from .state.connect_authorize import ConnectAuthorizeState
from .state.core import ALL_TABLES, ANONYMOUS_ID, GLOBAL_MANAGEMENT_ID, Table
from .state.exports import ExportsState
from .state.gateways import GatewayServicesState
from .state.intentions import IntentionState, check_intention_namespaces
from .state.kv import KV_MAX, KVState
from .state.operator import OperatorState
from .state.queries import PreparedQueryState
from .state.sessions import SessionState
from .state.snapshot import SnapshotState
from .state.tenancy import TenancyState
from .state.txn import TxnState


class ConsulBackend(
    TenancyState,
    KVState,
    SessionState,
    TxnState,
    OperatorState,
    SnapshotState,
    ACLState,
    IntentionState,
    AgentHealthState,
    GatewayServicesState,
    ExportsState,
    ConnectAuthorizeState,
    PreparedQueryState,
    ConnectState,
):
    """The whole emulated cluster. Thread-safe: every public method takes one ``RLock``.

    ``ConsulBackend(datacenter="dc1", node_name="sandbox", acl_enabled=True,
    initial_management_token=None)``; with ACLs on and no token given a management token is
    generated (read it from :attr:`initial_management_token`).
    """

    def __init__(
        self,
        datacenter: str = "dc1",
        node_name: str = "sandbox",
        acl_enabled: bool = True,
        initial_management_token: str | None = None,
        address: str = "127.0.0.1",
        default_intention_policy: str | None = None,
        acl_bootstrap: bool = False,
    ) -> None:
        if default_intention_policy not in (None, "allow", "deny"):
            raise ValueError("default_intention_policy must be 'allow', 'deny' or None")
        super().__init__()
        self.datacenter = datacenter
        #: ``acl.default_policy``: the emulator always runs default-deny when ACLs are on.
        self.acl_default_policy = "deny"
        #: the agent's ``default_intention_policy`` (None: follow the ACL default policy).
        self.default_intention_policy = default_intention_policy
        self.node_name = node_name
        self.acl_enabled = acl_enabled
        self.address = address
        self.node_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{datacenter}.{node_name}"))
        # ``acl_bootstrap``: start with no management token, for ``PUT /v1/acl/bootstrap``
        self.initial_management_token = initial_management_token or (
            str(uuid.uuid4()) if acl_enabled and not acl_bootstrap else None
        )
        self.runner = CheckRunner(self._check_for_runner, self._runner_report, self._reap)
        with self.write(bootstrap=True):
            self._init_state()

    def _init_state(self) -> None:
        """Empty tables, then what a fresh dev agent has (inside the caller's write)."""
        self._partitions = Table("partitions", self)
        self._nodes = Table("nodes", self)
        self._services = Table("services", self)
        self._checks = Table("checks", self)
        self._kv = Table("kvs", self)
        self._config = Table("config", self)
        self._peerings = Table("peerings", self)
        self._policies = Table("acl", self)
        self._tokens = Table("acl", self)
        self._roles = Table("acl", self)
        self._auth_methods = Table("acl", self)
        self._binding_rules = Table("acl", self)
        self._sessions = Table("sessions", self)
        self._coordinates = Table("coordinates", self)
        self._queries = Table("prepared-queries", self)
        self._add_partition("default", "Builtin Default Partition")
        self._init_acl()
        self._init_sessions()
        self._init_operator()

    def reset(self, authz: aclmod.Authorizer | None = None) -> int:
        """Sandbox only (not Consul): forget everything but the initial management token."""
        self._require(authz, "operator", "write")
        with self.write() as tx:
            for key in list(self._checks):
                self.runner.cancel(key)
            self._init_state()
            tx.touch(*ALL_TABLES)
        return tx.index

    def close(self) -> None:
        """Stop the check runner."""
        self.runner.stop()

    def status_leader(self) -> str:
        """``GET /v1/status/leader``."""
        return f"{self.address}:8300"

    def status_peers(self) -> list[str]:
        """``GET /v1/status/peers``."""
        return [f"{self.address}:8300"]


__all__ = [
    "ANONYMOUS_ID",
    "GLOBAL_MANAGEMENT_ID",
    "KV_MAX",
    "ConsulBackend",
    "ConsulError",
    "check_intention_namespaces",
    "check_namespace",
]
