"""What the embedded default (storage/embedded.py) needs before any server runs: its settings
(read by cmtch/settings.py at start-up), its state folder (password, certificate, FTP home), a
self-signed certificate for loopback, and the photo folder's starting files (default images, the
guard). No sockets here."""

import datetime
import ipaddress
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from storage.shipped import DEFAULT_IMAGES_DIR, GUARD_FILE, GUARD_NAME

LOOPBACK = "127.0.0.1"
EMBEDDED_USER = "cmtch"
REMOTE_PHOTO_DIR = "/public_html/static/article_images/"
DEFAULT_FTP_PORT = 2121
DEFAULT_HTTP_PORT = 8021
FILE_MODE = 0o644  # Pure-FTPd on cPanel runs with umask 022
FOLDER_MODE = 0o755
PURE_FTPD_MAX_SESSIONS_PER_IP = 8
PURE_FTPD_IDLE_TIMEOUT = 15 * 60
PROJECT_DIR = Path(__file__).resolve().parent.parent


def hostgator_settings(*, ftp_port, http_port, password, ca_file, tls=True, user=EMBEDDED_USER,
                       directory=REMOTE_PHOTO_DIR, timeout=15.0, file_mode="644"):
    """A settings.HOSTGATOR_FTP dict for a server on loopback (the embedded one, or a test's)."""
    public_path = directory.removeprefix("/public_html")
    return {
        "HOST": LOOPBACK,
        "PORT": ftp_port,
        "USER": user,
        "PASSWORD": password,
        "DIR": directory,
        "PUBLIC_URL": f"http://{LOOPBACK}:{http_port}{public_path}",
        "TLS": "explicit" if tls else "off",
        "CA_FILE": str(ca_file) if tls and ca_file else None,
        "TLS_FINGERPRINT": None,
        "TIMEOUT": timeout,
        "PASSIVE": True,
        "MAX_CONNECTIONS": 3,
        "FILE_MODE": file_mode,
        "TRANSFER_TIMEOUT": 60.0,
        "EMBEDDED": True,
    }


def embedded_hostgator_settings(state_dir):
    """settings.HOSTGATOR_FTP for the embedded server whose state lives in ``state_dir``.

    Called when settings are imported, by every process (runserver, its autoreloader, the embedded server
    itself), possibly at the same instant: it only prepares files, never starts anything or touches the
    network, and whichever process creates a file first wins for everyone.
    """
    state = EmbeddedState(Path(state_dir)).prepare()
    ftp_port, http_port = embedded_ports()
    return hostgator_settings(ftp_port=ftp_port, http_port=http_port, password=state.password(),
                              ca_file=state.cert_file)


def embedded_ports():
    """(FTP port, HTTP port) of the embedded server: EMBEDDED_FTP_PORT / EMBEDDED_HTTP_PORT or 2121 / 8021."""
    return (int(os.environ.get("EMBEDDED_FTP_PORT") or DEFAULT_FTP_PORT),
            int(os.environ.get("EMBEDDED_HTTP_PORT") or DEFAULT_HTTP_PORT))


class EmbeddedState:
    """The files of the embedded host: FTP password, TLS certificate and the FTP user's home folder."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.password_file = state_dir / "ftp-password"
        self.tls_dir = state_dir / "tls"
        self.cert_file = self.tls_dir / "cert.pem"
        self.key_file = self.tls_dir / "key.pem"
        self.ftp_root = state_dir / "ftp-root"
        self.photo_folder = self.ftp_root / REMOTE_PHOTO_DIR.strip("/")

    def prepare(self):
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.photo_folder.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            publish_file_once(self.password_file, secrets.token_urlsafe(24).encode())
        if not self.cert_file.exists():
            self._publish_certificate()
        return self

    def password(self):
        return self.password_file.read_text().strip()

    def _publish_certificate(self):
        # Certificate and key must match: build both in a private folder and rename the folder into place,
        # which succeeds for exactly one process (rename onto a non-empty folder fails).
        cert_pem, key_pem = self_signed_certificate()
        staging = Path(tempfile.mkdtemp(prefix=".tls-", dir=self.state_dir))
        (staging / self.cert_file.name).write_bytes(cert_pem)
        with open(os.open(staging / self.key_file.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(key_pem)
        try:
            staging.rename(self.tls_dir)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not self.cert_file.exists():
                raise


def publish_file_once(path: Path, content: bytes):
    """Create ``path`` (mode 0600) with ``content`` unless another process created it first.

    Written to a temporary file and hard-linked into place: the link fails if the name exists, so two
    processes starting together agree on one password instead of each returning its own.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def self_signed_certificate(names=("localhost",), addresses=(LOOPBACK,), years=10):
    """(certificate PEM, private key PEM) of a self-signed EC P-256 certificate for loopback.

    It is its own CA (clients load it as CA_FILE), marked CA:TRUE with keyCertSign so strict X.509
    verification (Python 3.13's default) accepts it as a trust anchor, and serverAuth for the FTPS server.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cmtch embedded HostGator")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365 * years))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(name) for name in names]
            + [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def place_default_images(photo_folder: Path):
    """Copy the shipped default images into the photo folder if they are missing there (as
    ``check_hostgator --fix`` does on the real host)."""
    for source in sorted(DEFAULT_IMAGES_DIR.glob("default_article.*")):
        place_file(source, photo_folder / source.name)


def prepare_photo_folder(photo_folder: Path):
    """The default images and the .htaccess guard, as ``check_hostgator --fix`` leaves the real host:
    a fresh embedded default passes check_hostgator."""
    place_default_images(photo_folder)
    place_file(GUARD_FILE, photo_folder / GUARD_NAME)


def place_file(source: Path, target: Path):
    if not target.exists():
        shutil.copyfile(source, target)
        target.chmod(FILE_MODE)


# --- Apache's half ---------------------------------------------------------------------------------------
