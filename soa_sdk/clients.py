"""The clients the lab's steps use, each made once from the endpoints and credentials.

- AWS: a boto3 session in the management account (:class:`soa_sdk.awsclient.EndpointSession`,
  which points boto3 at the sandbox's endpoint when there is one); sessions into member
  accounts are step 0's (:meth:`soa_sdk.org.Organization.session`, STS ``AssumeRole``);
- Vault: an ``hvac.Client`` with the sandbox's root token or ``VAULT_TOKEN``;
- Consul: :class:`soa_sdk.consul_api.ConsulApi` (python-consul2 and raw HTTP);
- Boundary: the address only; each step makes its own ``BoundaryApi`` per user token.

Nothing here reads global state: the composition root (:class:`soa_sdk.lab.Lab`) gives the
endpoints and credentials, then hands the clients to the steps.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from soa_sdk.awsclient import EndpointSession
from soa_sdk.config import Credentials, Endpoints
from soa_sdk.errors import ServiceUnavailable

if TYPE_CHECKING:
    import hvac

    from soa_sdk.consul_api import ConsulApi


NO_VAULT = "No Vault address: set VAULT_ADDR (and VAULT_TOKEN)."
NO_CONSUL = "No Consul address: set CONSUL_HTTP_ADDR (and CONSUL_HTTP_TOKEN)."


class Missing:
    """Stands for a client whose endpoint is not configured: a step can be built with it
    and fails with ``message`` (a :class:`ServiceUnavailable`) only when it uses it."""

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ServiceUnavailable(self._message)

    def __repr__(self) -> str:
        return f"Missing({self._message!r})"


class Clients:
    """The clients of one lab; each is built on first use and kept."""

    def __init__(self, endpoints: Endpoints, credentials: Credentials) -> None:
        self.endpoints = endpoints
        self.credentials = credentials

    @cached_property
    def aws(self) -> EndpointSession:
        """A boto3 session in the management account."""
        c = self.credentials
        return EndpointSession(
            aws_access_key_id=c.aws_access_key_id,
            aws_secret_access_key=c.aws_secret_access_key,
            region_name=self.endpoints.region,
            endpoint_url=self.endpoints.aws_url,
        )

    @cached_property
    def vault(self) -> hvac.Client:
        """An hvac client, authenticated with the sandbox's root token or ``VAULT_TOKEN``."""
        import hvac

        if not self.endpoints.vault_url:
            return Missing(NO_VAULT)  # type: ignore[return-value]
        from soa_sdk.reachability import GuardedSession

        return hvac.Client(
            url=self.endpoints.vault_url,
            token=self.credentials.vault_token,
            session=GuardedSession("vault", self.endpoints.vault_url),
        )

    @cached_property
    def consul(self) -> ConsulApi:
        """The Consul API (python-consul2 as ``.client``, raw HTTP for the rest)."""
        from soa_sdk.consul_api import ConsulApi

        if not self.endpoints.consul_url:
            return Missing(NO_CONSUL)  # type: ignore[return-value]
        return ConsulApi(self.endpoints.consul_url, self.credentials.consul_token)
