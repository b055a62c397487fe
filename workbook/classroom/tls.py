"""HTTPS for a class on a shared network: a certificate the instructor has, or one made here.

Without TLS, the room's Wi-Fi carries every password, login cookie and API token in clear
(JupyterHub's security documentation, read 2026-12-07: "You should not run JupyterHub without
SSL encryption on a public network", and the key file belongs "in a secure location on your
server, where they are not readable by regular users"). JupyterHub hands ``ssl_cert`` /
``ssl_key`` to its proxy, which then serves HTTPS only. A self-signed certificate makes the
browser warn; students compare its SHA-256 fingerprint with the one printed at start-up.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID_DAYS = 365


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def names_for(host: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a student may type to reach this machine."""
    hostname = socket.gethostname()
    dns = sorted({hostname, "localhost"} | ({host} if not _is_ip(host) else set()))
    ips = {"127.0.0.1"}
    if _is_ip(host) and host not in ("0.0.0.0", "::"):
        ips.add(host)
    else:
        try:
            ips |= {info[4][0] for info in socket.getaddrinfo(hostname, None, socket.AF_INET)}
        except OSError:
            pass
    return dns, sorted(ips)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """``folder/cert.pem`` and ``folder/key.pem`` (mode 600), made once and kept."""
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    dns, ips = names_for(host)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "workbook classroom")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256()))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate, as browsers show it (AB:CD:...)."""
    certificate = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()
