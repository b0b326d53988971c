"""The local ``hashicorp/consul`` provider: what ``terraform/shared_services/consul`` declares,
on the sandbox's Consul over HTTP(S).

Configured as the real provider (``resource_provider.go``, ``config.go``) is: ``address``
(else ``CONSUL_ADDRESS`` / ``CONSUL_HTTP_ADDR``, else ``localhost:8500``; an ``https://``
prefix sets the scheme), ``scheme`` (else ``CONSUL_SCHEME`` / ``CONSUL_HTTP_SCHEME``),
``datacenter`` (else the agent's own, from ``/v1/agent/self``), ``token`` (else
``CONSUL_TOKEN`` / ``CONSUL_HTTP_TOKEN``), ``ca_file`` (else ``CONSUL_CA_FILE``, else
``CONSUL_CACERT`` as Consul's ``api`` package reads it), ``ca_pem``, ``insecure_https``,
``header`` blocks.

Resources: :mod:`.admin_partition`, :mod:`.config_entry`. Left out: the other resources and
every data source (the monorepo uses none), ``auth_jwt`` and the ``auth_login_*`` blocks,
``http_auth``, client certificates, ``ca_path``, per-resource ``datacenter``/``token``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import ClassVar

from soa_sdk.sandbox.providers.consul.admin_partition import AdminPartition
from soa_sdk.sandbox.providers.consul.client import ConsulClient
from soa_sdk.sandbox.providers.consul.config_entry import ConfigEntry
from soa_sdk.sandbox.providers.framework import Provider, ProviderError, Resource, State
from soa_sdk.sandbox.providers.schema import ProviderSchema

SCHEMA_FILE = Path(__file__).with_name("schema.json")


def _first(config: State, name: str, *variables: str, default: str | None = None) -> str | None:
    value = config.get(name)
    if value:
        return str(value)
    for variable in variables:
        if os.environ.get(variable):
            return os.environ[variable]
    return default


class ConsulProvider(Provider):
    resource_types: ClassVar[list[type[Resource]]] = [AdminPartition, ConfigEntry]

    def __init__(self) -> None:
        super().__init__(ProviderSchema.load(SCHEMA_FILE))
        self._consul: ConsulClient | None = None
        self._ca_pem_file: str | None = None

    @property
    def consul(self) -> ConsulClient:
        if self._consul is None:
            raise ProviderError("The Consul provider is not configured")
        return self._consul

    def configure(self, config: State) -> None:
        self.config = config
        address = _first(config, "address", "CONSUL_ADDRESS", "CONSUL_HTTP_ADDR")
        scheme = _first(config, "scheme", "CONSUL_SCHEME", "CONSUL_HTTP_SCHEME")
        insecure = bool(config.get("insecure_https"))
        if insecure and scheme != "https" and not (address or "").startswith("https://"):
            raise ProviderError("insecure_https is meant to be used when scheme is https")
        ca_file = _first(config, "ca_file", "CONSUL_CA_FILE", "CONSUL_CACERT")
        if config.get("ca_pem"):
            ca_file = self._write_ca_pem(str(config["ca_pem"]))
        headers = {h["name"]: h["value"] for h in config.get("header") or [] if h}
        self._consul = ConsulClient(
            address or "localhost:8500",
            token=_first(config, "token", "CONSUL_TOKEN", "CONSUL_HTTP_TOKEN"),
            scheme=scheme,
            ca_file=ca_file,
            insecure_https=insecure,
            headers=headers,
        )
        datacenter = config.get("datacenter")
        if not datacenter:
            agent = self._consul.get("/v1/agent/self") or {}
            datacenter = agent.get("Config", {}).get("Datacenter")
        self._consul.datacenter = datacenter

    def _write_ca_pem(self, pem: str) -> str:
        """``requests`` verifies against a file: the configured PEM, written once."""
        if self._ca_pem_file is None:
            with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
                handle.write(pem)
            self._ca_pem_file = handle.name
        return self._ca_pem_file
