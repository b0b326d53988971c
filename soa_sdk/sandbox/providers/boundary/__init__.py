"""The local hashicorp/boundary provider (see :mod:`.provider`)."""
