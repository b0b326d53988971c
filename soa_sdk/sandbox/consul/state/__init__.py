"""The emulated cluster's state, one module per resource family, composed by
:class:`~soa_sdk.sandbox.consul.models.ConsulBackend`.

``core`` (tables, the write path, blocking reads, the listing loop), ``records`` (typed
records and their JSON), ``health`` and ``catalog`` (nodes, services, checks), ``kv``,
``acl``, ``config`` (config entries), ``intentions``, ``tenancy`` (partitions, peering).
"""
