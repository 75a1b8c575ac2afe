"""A local certificate authority for the servers gridlake starts on loopback.

It issues a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate,
as PEM files (keys in PKCS #8, which the JVM's Redis writer reads too). The edge presents the
server certificate; tests trust the CA. Nothing here is for production: there, conf names the
certificates of the utility's own PKI.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The PEM files of a local PKI, by role.
FILES = ("ca", "server", "server-key", "client", "client-key")


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


def _issue(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey,
           ca: bool, days: int, usage: x509.ObjectIdentifier | None = None,
           server_names: bool = False) -> x509.Certificate:
    now = datetime.now(timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1")),
            x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def issue_local_pki(folder: Path, days: int = 90) -> dict[str, Path]:
    """A new CA, a server certificate for loopback and a client certificate in ``folder``, valid
    ``days``; returns the files by role (FILES)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {name: folder / f"{name}.pem" for name in FILES}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridlake local CA")])
    ca = _issue("gridlake local CA", ca_key, ca_name, ca_key, ca=True, days=days)
    for role, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH), ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _issue(f"gridlake local {role}", key, ca_name, ca_key, ca=False, days=days, usage=usage,
                             server_names=role == "server")
        files[role].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files[f"{role}-key"])
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def local_pki(folder: Path, min_days_left: int = 1) -> dict[str, Path]:
    """The local PKI in ``folder``: the one there while its server certificate has
    ``min_days_left``, else a new one."""
    files = {name: folder / f"{name}.pem" for name in FILES}
    if all(path.exists() for path in files.values()):
        server = x509.load_pem_x509_certificate(files["server"].read_bytes())
        if server.not_valid_after_utc - datetime.now(timezone.utc) > timedelta(days=min_days_left):
            return files
    return issue_local_pki(folder)
