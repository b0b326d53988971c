"""The sandbox's server ports come from below the kernel's ephemeral range, so that no
outgoing connection of the machine can take one between the pick and the server's bind."""

from __future__ import annotations

import socket

from soa_sdk.sandbox.ports import EPHEMERAL_RANGE, free_port, port_is_free, server_ports


def test_server_ports_lie_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = server_ports()
    assert ports is not None and ports.stop == low and len(ports) >= 1000
    picked = [free_port() for _ in range(500)]
    assert all(port in ports for port in picked)
    # Never the same port twice in a row of picks: each may not be bound yet.
    assert len(set(picked)) == len(picked)


def test_a_picked_port_is_free_and_a_listening_one_is_not() -> None:
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert not port_is_free(port)
