"""``python -m soa_sdk.sandbox.providers.aws``: started by Terraform (go-plugin handshake), or
``... serve [--ready FILE]`` for reattach mode."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from soa_sdk.sandbox.providers import plugin
from soa_sdk.sandbox.providers.aws.provider import LocalAwsProvider


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SOA_LAB_PROVIDER_LOG", "WARNING").upper(), stream=sys.stderr
    )
    parser = argparse.ArgumentParser(prog="soa-lab-provider-aws")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve on a loopback port for TF_REATTACH_PROVIDERS")
    serve.add_argument("--ready", help="write the port here once serving")
    arguments = parser.parse_args(argv)
    if arguments.command == "serve":
        return plugin.serve_reattach(LocalAwsProvider, arguments.ready)
    return plugin.serve_launched(LocalAwsProvider)


if __name__ == "__main__":
    raise SystemExit(main())
