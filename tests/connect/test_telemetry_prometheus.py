# ruff: noqa: E501 (the exposition lines are as Envoy writes them)
"""The telemetry reader against a Prometheus text endpoint that is not the sandbox's, as on
real endpoints (``SOA_LAB_PROMETHEUS_URL``): Consul's labels and its SNI cluster names."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from soa_sdk.errors import ServiceUnavailable
from soa_sdk.telemetry import PROMETHEUS_URL_ENV, Cluster, MeshMetrics, parse_cluster

TEXT = """\
# TYPE envoy_cluster_upstream_rq_total counter
envoy_cluster_upstream_rq_total{consul_destination_service="inventory",consul_destination_service_subset="v1",consul_destination_partition="ecs",envoy_cluster_name="inventory"} 90
envoy_cluster_upstream_rq_total{consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul",envoy_cluster_name="v2"} 10
envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul"} 4
envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul"} 6
envoy_cluster_upstream_rq_time_bucket{consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul",le="5"} 5
envoy_cluster_upstream_rq_time_bucket{consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul",le="10"} 10
envoy_cluster_upstream_rq_time_bucket{consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul",le="+Inf"} 10
envoy_cluster_upstream_rq_time_sum{consul_destination_target="v2.inventory.default.ecs.dc1.internal-v1.abc.consul"} 60
envoy_cluster_upstream_rq_total{envoy_cluster_name="local_app"} 100
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/federate"
    finally:
        server.shutdown()
        server.server_close()


def test_reads_a_prometheus_endpoint_from_the_environment(
    prometheus: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROMETHEUS_URL_ENV, prometheus)
    by_subset = MeshMetrics.from_environment().service("inventory", partition="ecs")
    assert by_subset["v1"].requests == 90
    v2 = by_subset["v2"]
    assert (v2.requests, v2.errors_5xx, v2.error_rate) == (10, 4, 0.4)
    assert v2.quantile(0.5) == 5.0
    assert v2.quantile(0.75) == pytest.approx(7.5)


def test_no_source_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROMETHEUS_URL_ENV, raising=False)
    with pytest.raises(ServiceUnavailable, match=PROMETHEUS_URL_ENV):
        MeshMetrics.from_environment()


def test_sni_names() -> None:
    assert parse_cluster("inventory.default.dc1.internal.abc.consul") == Cluster("inventory")
    assert parse_cluster("v2.inventory.default.eks.dc1.internal-v1.abc.consul") == Cluster(
        "inventory", "v2", "eks"
    )
    assert parse_cluster("local_app") is None
