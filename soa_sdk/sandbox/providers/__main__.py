"""``python -m soa_sdk.sandbox.providers``: the local providers as Terraform runs them.

- ``launch <type>``: one provider, started by Terraform from the mirror's executable
  (go-plugin handshake on stdout);
- ``serve [--ready FILE]``: every local provider in one process, each on its own loopback
  port, for ``TF_REATTACH_PROVIDERS``; ``FILE`` gets ``{"<address>": <port>, ...}`` as JSON
  once all of them accept connections.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from soa_sdk.sandbox.providers import plugin
from soa_sdk.sandbox.providers.local import PROVIDERS, provider


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SOA_LAB_PROVIDER_LOG", "WARNING").upper(), stream=sys.stderr
    )
    parser = argparse.ArgumentParser(prog="python -m soa_sdk.sandbox.providers")
    sub = parser.add_subparsers(dest="command", required=True)
    launch = sub.add_parser("launch", help="serve one provider as Terraform starts it")
    launch.add_argument("type_name", choices=sorted(PROVIDERS))
    serve = sub.add_parser("serve", help="serve every provider for TF_REATTACH_PROVIDERS")
    serve.add_argument("--ready", help="write the ports here (JSON) once serving")
    arguments = parser.parse_args(argv)
    if arguments.command == "launch":
        return plugin.serve_launched(provider(arguments.type_name).factory())
    factories = {p.address: p.factory() for p in PROVIDERS.values()}
    return plugin.serve_reattach(factories, arguments.ready)


if __name__ == "__main__":
    raise SystemExit(main())
