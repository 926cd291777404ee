"""The signing keys: one seal certificate per department, under ONESTOP_PKI_DIR (default instance/pki).

Layout (the same for the development PKI and for production key files from a real CA):

    root-ca.pem                 the trust anchor verification checks signatures against
    crl.pem                     the CA's certificate revocation list (signing keys withdrawn)
    departments/<code>.pem      a department's seal certificate
    departments/<code>.key      its private key (PEM, PKCS#8, mode 0600)

`flask onestop pki init` writes a development PKI there: a root CA (its key in root-ca.key, which a
production directory does not have), one ECDSA P-256 seal certificate per department and an empty CRL.
It is idempotent: existing files are kept, missing departments are added. Never commit these files.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEV_ORGANISATION = "郑州市人民政府（开发测试用，不具法律效力）"
ROOT_NAME = "onestop 开发根证书 (development root CA)"


@dataclass(frozen=True)
class PkiPaths:
    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "root-ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "root-ca.key"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    def department_cert(self, code: str) -> Path:
        return self.root / "departments" / f"{code}.pem"

    def department_key(self, code: str) -> Path:
        return self.root / "departments" / f"{code}.key"


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANISATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_dev_pki(root: Path, departments: dict[str, str], *, now: dt.datetime) -> list[str]:
    """Create what is missing; return what was created. `departments` maps code -> Chinese name."""
    paths = PkiPaths(root)
    created: list[str] = []
    (root / "departments").mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    if paths.ca_cert.exists() and not paths.ca_key.exists():
        raise PkiError(f"{paths.ca_cert} exists without its key: this is not a development PKI; "
                       "add department certificates from your CA instead")
    if not paths.ca_cert.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = (
            x509.CertificateBuilder().subject_name(_name(ROOT_NAME)).issuer_name(_name(ROOT_NAME))
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(paths.ca_key, _pem_key(ca_key))
        paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        created.append(str(paths.ca_cert))
    ca_key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    for code, name in sorted(departments.items()):
        if paths.department_cert(code).exists() and paths.department_key(code).exists():
            continue
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(_name(f"{name}电子印章"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # A seal signs documents: digital signature and non-repudiation (content commitment).
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(paths.department_key(code), _pem_key(key))
        paths.department_cert(code).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        created.append(str(paths.department_cert(code)))
    if created or not paths.crl.exists():
        crl = (
            x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
            .last_update(now).next_update(now + dt.timedelta(days=30))
            .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths.crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        created.append(str(paths.crl))
    return created


class PkiError(Exception):
    """The signing keys are missing or unusable; the message says what to do."""


def fingerprint(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex()


def status(root: Path, department_codes: list[str]) -> list[tuple[str, str]]:
    """(department or 'root', state) lines for `flask onestop pki status`."""
    paths = PkiPaths(root)
    lines = [("root", "present" if paths.ca_cert.exists() else "MISSING")]
    for code in department_codes:
        cert, key = paths.department_cert(code), paths.department_key(code)
        if not (cert.exists() and key.exists()):
            lines.append((code, "MISSING"))
            continue
        loaded = x509.load_pem_x509_certificate(cert.read_bytes())
        lines.append((code, f"valid until {loaded.not_valid_after_utc:%Y-%m-%d}, key id {fingerprint(cert.read_bytes())[:16]}…"))
    return lines
