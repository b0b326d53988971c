"""An emulator of Consul's HTTP API for the sandbox (see ``not_implemented`` for its limits)."""

from .models import ConsulBackend
from .server import ConsulServer, create_server

__all__ = ["ConsulBackend", "ConsulServer", "create_server"]
