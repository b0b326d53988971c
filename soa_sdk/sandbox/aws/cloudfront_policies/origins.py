"""An origin's ``OriginAccessControlId``, which moto 5.2's distribution model drops.

moto's ``Origin`` keeps the id, domain, path, S3 and custom origin configs of an origin, but
not the origin access control that signs CloudFront's requests to an S3 origin; a
distribution read back would lose it (Terraform would see a drift on every plan). This keeps
it on moto's model, where moto's serializer finds it by name, as CloudFront answers it (an
empty string when there is none).
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def keep_origin_access_control() -> None:
    """Make moto's ``Origin`` keep ``OriginAccessControlId`` (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.cloudfront import models

    original = models.Origin.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    models.Origin.__init__ = __init__  # type: ignore[method-assign]
    _INSTALLED = True
