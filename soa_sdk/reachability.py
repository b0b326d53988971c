"""One message for a service that stopped answering, and a ``requests`` session that says it.

Every client the SDK builds (the workload host's, Consul's through python-consul2 and raw HTTP,
Vault's through hvac) sends its requests through a
:class:`GuardedSession`, so a refused or timed-out connection becomes a
:class:`~soa_sdk.errors.ServiceUnavailable` naming the service and the fix, wherever the call
was made. botocore has its own transport: :class:`soa_sdk.awsclient.EndpointSession` does the
same for its clients, and the readers of Envoy (its statistics and config dump, a runtime's
ingress) call :func:`unavailable` with ``"envoy"`` themselves. HTTP error answers (4xx, 5xx)
are left to each client's own translation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from soa_sdk.errors import ServiceUnavailable

SERVICES = {
    "aws": "AWS emulator (moto)",
    "vault": "Vault",
    "postgres": "PostgreSQL",
    "consul": "Consul (and the xDS server of the Envoys)",
    "envoy": "Envoy (the mesh's data plane)",
    "workloads": "workload host",
    "boundary": "Boundary",
    "prometheus": "Prometheus (the mesh's metrics)",
    "ingress": "ingress gateway",
}
"""The sandbox's services (``soa-lab status`` names them so) and how a message calls them."""

_ADDRESS_VARIABLES = {
    "aws": "AWS_ENDPOINT_URL (or your AWS configuration)",
    "vault": "VAULT_ADDR",
    "postgres": "SOA_LAB_POSTGRES_URL",
    "consul": "CONSUL_HTTP_ADDR",
    "boundary": "BOUNDARY_ADDR",
    "prometheus": "SOA_LAB_PROMETHEUS_URL",
    "ingress": "the runtime's ingress address",
}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def unavailable(
    service: str,
    url: str | None,
    error: BaseException | None = None,
    doing: str | None = None,
) -> ServiceUnavailable:
    """The error for ``service`` (a key of :data:`SERVICES`) not answering at ``url``, while
    ``doing`` (a few words, such as "Reading the mesh metrics"), when given.

    The sandbox listens on the loopback address only, so a loopback URL means the sandbox's
    service died: the fix is ``soa-lab status`` then ``soa-lab up``. Elsewhere the fix is the
    address or the network.
    """
    label = SERVICES.get(service, service)
    cause = f" ({type(error).__name__})" if error is not None else ""
    host = urlsplit(url).hostname if url and "://" in url else None
    if url is None or host in _LOOPBACK:
        where = f" at {url}" if url else ""
        message = (
            f"The sandbox's {label}{where} stopped answering{cause}. Run `soa-lab status` to "
            f"see which service died, then `soa-lab up` to restart it."
        )
    else:
        variable = _ADDRESS_VARIABLES.get(service, "its address")
        message = (
            f"{label} at {url} did not answer{cause}. Check {variable} and that it is reachable "
            "from here."
        )
    if doing:
        message = f"{doing}: {message[0].lower()}{message[1:]}"
    found = ServiceUnavailable(message)
    found.service, found.url = service, url
    return found


def ingress_service(url: str) -> str:
    """Who answers at a runtime's ingress ``url``: the sandbox's Envoy (its ingress gateways
    listen in it, on loopback), else the runtime's own gateway."""
    return "envoy" if urlsplit(url).hostname in _LOOPBACK else "ingress"


class GuardedSession(requests.Session):
    """A ``requests.Session`` whose connection failures raise :func:`unavailable`."""

    def __init__(self, service: str, url: str) -> None:
        super().__init__()
        self.service = service
        self.url = url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().request(method, url, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise unavailable(self.service, self.url, error) from None
