"""soa-lab: the SDK behind the lab notebooks.

``Lab.connect()`` is the entry point; each step of the lab is one module (``org``, ...).
"""

from soa_sdk.errors import SoaLabError, ValidationError
from soa_sdk.lab import Lab

__all__ = ["Lab", "SoaLabError", "ValidationError"]
__version__ = "0.1.0"
