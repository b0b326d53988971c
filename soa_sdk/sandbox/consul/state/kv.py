"""The KV store (``/v1/kv/*``); locks (``?acquire=``/``?release=``) are the sessions'
(:mod:`.sessions`), ``/v1/txn`` is :mod:`.txn`.
"""

from __future__ import annotations

from ..exceptions import BadRequest, ValueTooLarge
from .core import Authz, Store
from .records import KVEntry

KV_MAX = 512 * 1024


class KVState(Store):
    """Keys by (partition, key); values are bytes (``None`` for an empty value)."""

    def kv_get(
        self, key: str, partition: str = "default", recurse: bool = False, authz: Authz = None
    ) -> list[dict]:
        """``GET /v1/kv/:key`` (``recurse`` for every key under the prefix); [] if none."""
        if recurse:
            return self._docs(
                self._kv,
                partition=partition,
                where=lambda e: e.key.startswith(key),
                visible=lambda e: self._allowed(authz, "key", "read", e.key, e.partition),
            )
        self._require(authz, "key", "read", key, partition)
        with self._lock:
            entry = self._kv.get((partition, key))
            return [entry.to_dict()] if entry else []

    def kv_raw(self, key: str, partition: str = "default", authz: Authz = None) -> bytes | None:
        """The raw value of one key (``?raw``)."""
        self._require(authz, "key", "read", key, partition)
        with self._lock:
            entry = self._kv.get((partition, key))
            return (entry.value or b"") if entry else None

    def kv_keys(
        self, prefix: str, partition: str = "default", separator: str = "", authz: Authz = None
    ) -> list[str]:
        """``GET /v1/kv/:prefix?keys&separator=``: key names, folded at the separator."""
        self._require(authz, "key", "list", prefix, partition)
        out: list[str] = []
        for doc in self._docs(
            self._kv,
            partition=partition,
            where=lambda e: e.key.startswith(prefix),
            visible=lambda e: self._allowed(authz, "key", "read", e.key, e.partition),
            doc=lambda e: {"Key": e.key},
        ):
            name = doc["Key"]
            if separator:
                cut = name.find(separator, len(prefix))
                if cut != -1:
                    name = name[: cut + len(separator)]
            if not out or out[-1] != name:
                out.append(name)
        return out

    def kv_put(
        self,
        key: str,
        value: bytes,
        partition: str = "default",
        flags: int | None = None,
        cas: int | None = None,
        authz: Authz = None,
        acquire: str | None = None,
        release: str | None = None,
    ) -> bool:
        """``PUT /v1/kv/:key``: ``True``, or ``False`` when ``cas`` does not match, or the
        lock (``acquire``/``release`` a session's) is not taken or not held."""
        if not key:
            raise BadRequest("Missing key name")
        if len(value) > KV_MAX:
            raise ValueTooLarge(KV_MAX)
        partition = self.check_partition(partition)
        self._require(authz, "key", "write", key, partition)
        with self.write():
            old = self._kv.get((partition, key))
            if cas is not None and (old.modify_index if old else 0) != cas:
                return False
            entry = KVEntry(
                key=key,
                partition=partition,
                value=value if value else None,
                flags=flags if flags is not None else (old.flags if old else 0),
                lock_index=old.lock_index if old else 0,
                session=old.session if old else "",
            )
            if acquire:
                return self._kv_lock((partition, key), acquire, entry)  # type: ignore[attr-defined]
            if release:
                return self._kv_unlock((partition, key), release, entry)  # type: ignore[attr-defined]
            self._kv.put((partition, key), entry)
        return True

    def kv_delete(
        self,
        key: str,
        partition: str = "default",
        recurse: bool = False,
        cas: int | None = None,
        authz: Authz = None,
    ) -> bool:
        """``DELETE /v1/kv/:key``: ``False`` when ``cas`` does not match."""
        self._require(authz, "key", "write", key, partition)
        with self.write() as tx:
            if recurse:
                doomed = [k for k in self._kv if k[0] == partition and k[1].startswith(key)]
                for k in doomed:
                    self._require(authz, "key", "write", k[1], partition)
            else:
                old = self._kv.get((partition, key))
                if cas is not None and (old is None or old.modify_index != cas):
                    return False
                doomed = [(partition, key)] if old else []
            tx.touch("kvs")  # a delete of nothing still moves the index, as Consul's does
            for k in doomed:
                del self._kv[k]
        return True
