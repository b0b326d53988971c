"""Check that an executed notebook shows no secret: neither the sandbox's own secrets nor
anything shaped like a credential."""

from __future__ import annotations

import json
import re
from pathlib import Path

from soa_sdk.sandbox.state import SandboxState

CREDENTIAL = re.compile(
    r"(?-i:(AKIA|ASIA)[A-Z0-9]{16})"
    r"|SecretAccessKey\W+[A-Za-z0-9/+]{30,}"
    r"|(token|password|secret)\W{1,6}[A-Za-z0-9._/+-]{16,}",
    re.IGNORECASE,
)


def assert_no_secret_in_outputs(notebook: Path, sandbox: SandboxState) -> None:
    document = json.loads(Path(notebook).read_text())
    for index, cell in enumerate(document["cells"]):
        outputs = cell.get("outputs", [])
        shown = json.dumps(outputs)
        for name, value in sandbox.secrets.items():
            assert value not in shown, f"cell {index} shows the secret {name}"
        # Images are base64: any 20 characters of it can look like a key; they show no text.
        text = json.dumps([_without_images(output) for output in outputs])
        match = CREDENTIAL.search(text)
        assert match is None, (
            f"cell {index} shows something like a credential: {match.group(0)[:12]}..."
        )


def _without_images(output: dict) -> dict:
    data = {k: v for k, v in output.get("data", {}).items() if not k.startswith("image/")}
    return {**output, "data": data}
