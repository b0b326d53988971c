"""The local hashicorp/vault provider (see :mod:`.provider`)."""
