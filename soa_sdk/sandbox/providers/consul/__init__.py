"""The local ``hashicorp/consul`` provider (see :mod:`.provider`)."""
