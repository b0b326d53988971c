"""The local ``hashicorp/aws`` provider (see :mod:`soa_sdk.sandbox.providers.aws.provider`)."""
