"""What a Terraform plan, apply or destroy did, read from Terraform's own output.

The counts come from Terraform's summary line (``Plan: 23 to add, 0 to change, 0 to
destroy.``, ``Apply complete! Resources: 23 added, ...``, or ``No changes.``); the resource
addresses from its progress lines (``aws_kms_key.trail: Creation complete after 0s [id=...]``)
and, for a plan, from its ``# <address> will be created`` headings. Data sources (read, not
changed) are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SUMMARIES = (
    re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy"),
    re.compile(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed"),
    re.compile(r"Destroy complete! Resources: ()()(\d+) destroyed"),
)
# Apply and destroy progress: "<address>: Creation complete after 1s [id=...]".
_DONE = re.compile(
    r"^(?P<address>[^\s#:][^:]*?): (?P<what>Creation|Modifications|Destruction) complete"
)
# Plan headings: "  # <address> will be created" / "must be replaced" (also "is tainted, so
# must be replaced" and "will be replaced, as requested").
_PLANNED = re.compile(
    r"^\s*# (?P<address>\S+) (?:will be (?P<what>created|updated in-place|destroyed)|"
    r"(?P<replace>must be replaced|is tainted, so must be replaced|will be replaced, as requested))"
)
_KIND = {
    "Creation": "created",
    "created": "created",
    "Modifications": "changed",
    "updated in-place": "changed",
    "Destruction": "destroyed",
    "destroyed": "destroyed",
}


@dataclass(frozen=True)
class PlanSummary:
    """Terraform's counts, and the managed resources it created, changed and destroyed (for
    a plan: would)."""

    add: int
    change: int
    destroy: int
    no_changes: bool
    created: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    destroyed: tuple[str, ...] = ()
    output: str = field(repr=False, default="")

    @classmethod
    def parse(cls, output: str) -> PlanSummary:
        lists: dict[str, list[str]] = {"created": [], "changed": [], "destroyed": []}
        for line in output.splitlines():
            done = _DONE.match(line)
            planned = _PLANNED.match(line) if not done else None
            if done:
                kinds = [_KIND[done["what"]]]
                address = done["address"]
            elif planned:
                kinds = ["destroyed", "created"] if planned["replace"] else [_KIND[planned["what"]]]
                address = planned["address"]
            else:
                continue
            if address.startswith("data.") or ".data." in address:
                continue
            for kind in kinds:
                if address not in lists[kind]:
                    lists[kind].append(address)
        found = next((m for p in _SUMMARIES if (m := p.search(output))), None)
        add, change, destroy = (int(n or 0) for n in found.groups()) if found else (0, 0, 0)
        no_changes = "No changes." in output and not (add or change or destroy)
        return cls(
            add,
            change,
            destroy,
            no_changes,
            tuple(lists["created"]),
            tuple(lists["changed"]),
            tuple(lists["destroyed"]),
            output,
        )

    def counts(self) -> str:
        """``23 to add, 0 to change, 0 to destroy`` (Terraform's own wording)."""
        return f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"

    def lines(self, limit: int = 8) -> list[str]:
        """A few lines for a notebook: the counts, then the addresses by what happened."""
        shown = [f"Terraform: {self.counts()}" + (" (no changes)" if self.no_changes else "")]
        for kind, addresses in (
            ("created", self.created),
            ("changed", self.changed),
            ("destroyed", self.destroyed),
        ):
            if addresses:
                more = f", ... ({len(addresses) - limit} more)" if len(addresses) > limit else ""
                shown.append(f"  {kind}: {', '.join(addresses[:limit])}{more}")
        return shown
