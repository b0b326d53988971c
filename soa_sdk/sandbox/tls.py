"""The sandbox's own certificate authority, for the services that production reaches over TLS.

The monorepo addresses Vault and Boundary with ``https://`` (its variables insist), and
Vault's identity tokens name an ``https://`` issuer, as AWS STS requires. The sandbox serves
those endpoints over TLS too (OpenBao's and the Boundary emulator's second listener), with a
server certificate for ``127.0.0.1`` and ``localhost`` signed by a CA made per sandbox home:

- ``<home>/tls/ca.pem``: the CA certificate (public): what every client trusts, given as
  ``VAULT_CACERT`` / ``BOUNDARY_CACERT`` to Terraform's providers, ``REQUESTS_CA_BUNDLE`` to
  Boundary's credential store, ``SSL_CERT_FILE`` to STS' issuer discovery;
- ``server.pem`` / ``server-key.pem`` (owner-only): the servers' certificate and key.

The CA's key is used once to sign and then dropped (nothing else is ever issued). ECDSA P-256,
valid for 30 days (a sandbox lives hours). Left out: rotation, client certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

VALID_FOR = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path

    def copy_for(self, folder: Path, user: str | None) -> TlsFiles:
        """The certificate and key copied into ``folder`` and owned by ``user`` (a server
        that runs as another user, as PostgreSQL does when the sandbox runs as root)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / self.cert.name, folder / self.key.name
        shutil.copyfile(self.cert, cert)
        shutil.copyfile(self.key, key)
        key.chmod(0o600)
        if user:
            for path in (cert, key):
                shutil.chown(path, user=user)
        return TlsFiles(self.ca, cert, key)


def files(home: Path) -> TlsFiles:
    folder = home / "tls"
    return TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")


def ensure(home: Path) -> TlsFiles:
    """The sandbox's CA and server certificate, made on first use."""
    wanted = files(home)
    if wanted.ca.exists() and wanted.cert.exists() and wanted.key.exists():
        return wanted
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soa-lab sandbox CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALID_FOR)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    wanted.ca.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(wanted.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    wanted.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    wanted.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return wanted


def renew(home: Path) -> TlsFiles:
    """A new CA and certificate (a fresh sandbox trusts nothing of the last one)."""
    shutil.rmtree(files(home).ca.parent, ignore_errors=True)
    return ensure(home)
