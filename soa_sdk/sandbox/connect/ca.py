"""The Connect CA on OpenBao's PKI engine: Consul's Vault CA provider, through hvac.

What Consul's Vault provider does (``agent/connect/ca/provider_vault.go``) and we do:

- a root PKI mount (``RootPKIPath``, here ``connect-root``) with an internally generated root
  whose URI SAN is the trust domain ``spiffe://<cluster-id>.consul``;
- an intermediate mount (``IntermediatePKIPath``, here ``connect-intermediate``): a CSR made
  there, signed by the root (``sign-intermediate``), set back (``intermediate/set-signed``);
- a role ``leaf-cert`` on the intermediate with ``allowed_uri_sans = spiffe://<td>/*``,
  ``require_cn`` off; each issue asks ``exclude_cn_from_sans = true`` (else the leaf also
  gets a DNS SAN: OpenBao takes it on the issue call, the role field is ignored),
  EC P-256 keys; a leaf per service, URI SAN its SPIFFE ID (partition included outside
  ``default``, see :func:`~soa_sdk.sandbox.connect.snapshot.spiffe_id`), 72 h by default;
  DNS SANs when asked (``ConnectCALeafRequest.DNSSAN``, which Consul fills for an ingress
  gateway serving TLS): OpenBao's ``alt_names`` on the issue call, each set of names a leaf
  of its own;
- **rotation** (:meth:`ConnectCA.rotate`): a new root issuer in the root mount
  (``root/rotate/internal``), a new intermediate signed by it and made the intermediate
  mount's default issuer; the old root stays in the trust bundle until
  :meth:`ConnectCA.prune` (Consul keeps it until its leaves expire), and leaves are reissued
  from the new intermediate, so traffic flows throughout.

:meth:`ConnectCA.roots` answers in the shape of ``GET /v1/connect/ca/roots`` and
:meth:`ConnectCA.configuration` of ``GET /v1/connect/ca/configuration``.

Not implemented: Consul's cross-signing of the new intermediate by the old root (both roots
are trusted instead during the rotation), the Vault provider's token renewal and auth methods
(the sandbox hands it the root token), CSR-based leaves (OpenBao makes the key: the sandbox's
Envoys do not generate their own), ``LeafCertTTL`` changes after start.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hvac
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from soa_sdk.errors import SoaLabError
from soa_sdk.sandbox.connect.snapshot import spiffe_id

ROLE = "leaf-cert"


class ConnectCAError(SoaLabError):
    """The Connect CA could not be set up or could not issue a certificate."""


@dataclass
class _Root:
    issuer_id: str
    pem: str
    intermediate_pem: str
    created: float


def _colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def _fingerprint(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return _colon_hex(hashlib.sha1(cert.public_bytes(Encoding.DER)).digest())


class ConnectCA:
    """Consul's Connect CA backed by OpenBao PKI mounts (a ``Certs`` for the snapshot)."""

    def __init__(
        self,
        client: hvac.Client,
        cluster_id: str | None = None,
        root_path: str = "connect-root",
        intermediate_path: str = "connect-intermediate",
        leaf_ttl: str = "72h",
    ) -> None:
        self.client = client
        self.cluster_id = cluster_id or str(uuid.uuid4())
        self.trust_domain = f"{self.cluster_id}.consul"
        self.root_path = root_path.strip("/")
        self.intermediate_path = intermediate_path.strip("/")
        self.leaf_ttl = leaf_ttl
        self._lock = threading.RLock()
        self._roots: list[_Root] = []
        self._leaves: dict[tuple[str, str, tuple[str, ...]], tuple[str, str, float]] = {}
        self.generation = 0
        self.index = 1

    # -- OpenBao calls ---------------------------------------------------------------------
    def _write(self, path: str, **data: Any) -> dict[str, Any]:
        try:
            resp = self.client.adapter.post(f"/v1/{path}", json=data)
        except hvac.exceptions.VaultError as exc:
            raise ConnectCAError(
                f"OpenBao refused {path}: {exc}. Is the sandbox's Vault up (soa-lab status)?"
            ) from exc
        if hasattr(resp, "json"):
            resp = resp.json() if resp.content else {}
        return (resp or {}).get("data") or {}

    def _mount(self, path: str) -> None:
        mounts = self.client.sys.list_mounted_secrets_engines()
        mounts = mounts.get("data", mounts)
        if f"{path}/" not in mounts:
            self.client.sys.enable_secrets_engine(
                "pki", path=path, config={"max_lease_ttl": "87600h"}
            )

    def setup(self) -> None:
        """Mounts, the first root and intermediate, and the leaf role (idempotent)."""
        with self._lock:
            if self._roots:
                return
            self._mount(self.root_path)
            self._mount(self.intermediate_path)
            self._add_root("generate", self.cluster_id[:8])
            self._write(
                f"{self.intermediate_path}/roles/{ROLE}",
                allow_any_name=True,
                enforce_hostnames=False,
                allowed_uri_sans=f"spiffe://{self.trust_domain}/*",
                exclude_cn_from_sans=True,
                require_cn=False,
                key_type="ec",
                key_bits=256,
                max_ttl="87600h",
                ttl=self.leaf_ttl,
                no_store=True,
                generate_lease=False,
            )

    def _add_root(self, operation: str, name: str) -> None:
        """A root (OpenBao's ``root/generate/internal`` for the first, ``root/rotate/internal``
        after) named ``pri-<name>...`` and ``root-<n>``, and its intermediate, as the newest
        of the roots (call under the lock)."""
        root = self._write(
            f"{self.root_path}/root/{operation}/internal",
            common_name=f"pri-{name}.vault.ca.{self.cluster_id[:8]}.consul",
            uri_sans=f"spiffe://{self.trust_domain}",
            key_type="ec",
            key_bits=256,
            ttl="87600h",
            issuer_name=f"root-{len(self._roots) + 1}",
        )
        self._roots.append(self._new_intermediate(root["issuer_id"], root["certificate"]))

    def _new_intermediate(self, root_issuer: str, root_pem: str) -> _Root:
        csr = self._write(
            f"{self.intermediate_path}/intermediate/generate/internal",
            common_name=f"pri-{uuid.uuid4().hex[:8]}.vault.ca.{self.cluster_id[:8]}.consul",
            key_type="ec",
            key_bits=256,
        )["csr"]
        signed = self._write(
            f"{self.root_path}/issuer/{root_issuer}/sign-intermediate",
            csr=csr,
            uri_sans=f"spiffe://{self.trust_domain}",
            ttl="8760h",
            use_csr_values=True,
        )["certificate"]
        imported = self._write(
            f"{self.intermediate_path}/intermediate/set-signed", certificate=signed
        )
        issuers = imported.get("imported_issuers") or []
        if issuers:
            self._write(f"{self.intermediate_path}/config/issuers", default=issuers[0])
        return _Root(root_issuer, root_pem.strip() + "\n", signed.strip() + "\n", time.time())

    # -- Certs -----------------------------------------------------------------------------
    def roots_pem(self) -> str:
        self.setup()
        with self._lock:
            return "".join(r.pem for r in self._roots)

    def leaf(
        self, service: str, partition: str = "default", dns_sans: Sequence[str] = ()
    ) -> tuple[str, str]:
        """(chain PEM: leaf then intermediate, key PEM) of ``service``, with ``dns_sans`` as
        its DNS SANs besides the SPIFFE URI; cached per (service, partition, names), reissued
        after a rotation or past half its life."""
        self.setup()
        names = tuple(dict.fromkeys(dns_sans))
        key = (service, partition, names)
        with self._lock:
            hit = self._leaves.get(key)
            if hit and hit[2] > time.time():
                return hit[0], hit[1]
            extra = {"alt_names": ",".join(names)} if names else {}
            issued = self._write(
                f"{self.intermediate_path}/issue/{ROLE}",
                common_name=f"{service}.svc.default.{self.cluster_id[:8]}.consul",
                uri_sans=spiffe_id(self.trust_domain, service, partition),
                ttl=self.leaf_ttl,
                exclude_cn_from_sans=True,
                **extra,
            )
            chain = issued["certificate"].strip() + "\n" + self._roots[-1].intermediate_pem
            cert = x509.load_pem_x509_certificate(issued["certificate"].encode())
            start = cert.not_valid_before_utc.timestamp()
            end = cert.not_valid_after_utc.timestamp()
            self._leaves[key] = (chain, issued["private_key"], start + (end - start) / 2)
            self.index += 1
            return chain, issued["private_key"]

    # -- rotation --------------------------------------------------------------------------
    def rotate(self) -> str:
        """A new root and intermediate; both roots trusted until :meth:`prune`. Returns the
        new root's ID."""
        self.setup()
        with self._lock:
            self._add_root("rotate", uuid.uuid4().hex[:8])
            self._leaves.clear()
            self.generation += 1
            self.index += 1
            return _fingerprint(self._roots[-1].pem)

    def prune(self) -> None:
        """Stop trusting every root but the active one (after the old leaves are gone)."""
        with self._lock:
            self._roots = self._roots[-1:]
            self.index += 1

    # -- Consul's shapes -------------------------------------------------------------------
    def roots(self) -> dict[str, Any]:
        """``GET /v1/connect/ca/roots``."""
        self.setup()
        with self._lock:
            out = []
            for i, r in enumerate(self._roots):
                cert = x509.load_pem_x509_certificate(r.pem.encode())
                active = i == len(self._roots) - 1
                out.append(
                    {
                        "ID": _fingerprint(r.pem),
                        "Name": "Vault CA Primary Cert",
                        "SerialNumber": cert.serial_number % (1 << 63),
                        "SigningKeyID": _colon_hex(
                            cert.extensions.get_extension_for_class(
                                x509.SubjectKeyIdentifier
                            ).value.digest
                        ),
                        "ExternalTrustDomain": self.cluster_id,
                        "NotBefore": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "NotAfter": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "RootCert": r.pem,
                        "IntermediateCerts": [r.intermediate_pem] if active else [],
                        "Active": active,
                        "PrivateKeyType": "ec",
                        "PrivateKeyBits": 256,
                        "CreateIndex": i + 1,
                        "ModifyIndex": self.index,
                    }
                )
            return {
                "ActiveRootID": out[-1]["ID"],
                "TrustDomain": self.trust_domain,
                "Roots": out,
            }

    def configuration(self) -> dict[str, Any]:
        """``GET /v1/connect/ca/configuration`` (the token is never shown)."""
        return {
            "Provider": "vault",
            "Config": {
                "Address": getattr(self.client, "url", ""),
                "RootPKIPath": self.root_path + "/",
                "IntermediatePKIPath": self.intermediate_path + "/",
                "LeafCertTTL": self.leaf_ttl,
                "RotationPeriod": "2160h",
                "IntermediateCertTTL": "8760h",
                "PrivateKeyType": "ec",
                "PrivateKeyBits": 256,
            },
            "State": None,
            "ForceWithoutCrossSigning": False,
            "CreateIndex": 1,
            "ModifyIndex": self.index,
        }
