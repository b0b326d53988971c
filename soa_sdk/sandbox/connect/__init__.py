"""Consul's data plane, for real: Envoy configured over xDS, certificates from Vault's PKI.

- :mod:`.snapshot`: a pure function from the Consul emulator's state (read through
  :class:`soa_sdk.sandbox.connect.view.CatalogView`) to each proxy's Envoy resources, the way
  Consul's ``agent/xds`` package builds them.
- :mod:`.ads`: the gRPC Aggregated Discovery Service (state of the world) that serves them,
  in the safe order, with ACK/NACK tracking.
- :mod:`.ca`: the Connect CA on OpenBao's PKI engine (Consul's Vault CA provider).
"""
