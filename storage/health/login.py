"""check_hostgator's first links: connect (DNS + TCP), TLS certificate (verified or pinned; its SHA-256
printed so that it can be pinned) and login, from the stage at which FTPConnection.open failed."""

import ftplib
import hashlib
import ssl

from storage.errors import StoreError, StoreTLSError
from storage.ftp.connection import FTPConnection
from storage.ftp.replies import quota_use_percent, translate
from storage.health.report import FAILED, OK, WARNING, reason


def connect_and_log_in(config, out):
    """One FTPConnection.open; the stage it failed at says which link broke."""
    where = f"{config.host}:{config.port}"
    try:
        connection = FTPConnection.open(config)
    except StoreError as error:
        stage = error.operation
        if stage == "connect":
            out.add("connect", FAILED, f"{where}: {reason(error)}")
            out.not_checked(["TLS certificate", "login"], "no connection")
            return None
        out.add("connect", OK, where)
        if stage == "AUTH TLS":
            detail = untrusted_certificate(config, error) if isinstance(error, StoreTLSError) else reason(error)
            out.add("TLS certificate", FAILED, detail)
            out.not_checked(["login"], "the password is not sent to an unverified server")
            return None
        out.add("TLS certificate", *tls_summary(config))
        out.add("login", FAILED, f"as {config.user}: {reason(error)}")
        return None
    out.add("connect", OK, where)
    sock = connection.ftp.sock
    fingerprint = certificate_fingerprint(sock.getpeercert(binary_form=True)) if isinstance(sock, ssl.SSLSocket) \
        else None
    out.add("TLS certificate", *tls_summary(config, fingerprint))
    out.add("login", OK, f"as {config.user}")
    check_quota(connection, out)
    return connection


QUOTA_WARNING_PERCENT = 90


def check_quota(connection, out):
    """Where the server says how full the account is (Pure-FTPd with quotas, in its login reply),
    warn before uploads start failing with "552 Quota exceeded"."""
    used = quota_use_percent(connection.server.login_reply)
    if used is None:
        return
    if used >= QUOTA_WARNING_PERCENT:
        out.add("hosting space", WARNING, f"{used} % of the account's quota used: photos will soon be refused "
                                          "(552); free space in cPanel (Disk Usage) or ask HostGator for more")
    else:
        out.add("hosting space", OK, f"{used} % of the account's quota used")


def tls_summary(config, fingerprint=None):
    if config.tls == "off":
        return WARNING, "off (HOSTGATOR_FTP_TLS=off): the password and photos travel unencrypted"
    if config.tls_fingerprint:
        how = "pinned"
    else:
        how = f"verified ({'HOSTGATOR_FTP_CA_FILE' if config.ca_file else 'system CAs'})"
    return OK, f"{how}, SHA-256 {fingerprint}" if fingerprint else how


def certificate_fingerprint(der):
    return hashlib.sha256(der).hexdigest()


def untrusted_certificate(config, error):
    """Why the certificate was refused, what it names and its SHA-256, to pin it if it is the host's own.
    The certificate is read on a separate connection after AUTH TLS with verification off ONLY to
    print it: no USER or PASS is ever sent there."""
    try:
        der = peek_certificate(config)
    except (OSError, EOFError, ftplib.Error) as peek_error:
        return f"{reason(error)}; its certificate could not be read ({reason(translate(peek_error, 'AUTH TLS'))})"
    fingerprint, names = certificate_fingerprint(der), certificate_names(der)
    if config.tls_fingerprint:
        return f"SHA-256 {fingerprint} is not the pinned HOSTGATOR_FTP_TLS_FINGERPRINT (certificate for {names})"
    why = error.reason or "verification failed"
    return (f"not trusted: {why} (certificate for {names}); if it is your host's, pin it: "
            f"HOSTGATOR_FTP_TLS_FINGERPRINT={fingerprint}")


def peek_certificate(config):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # noqa: S323 -- only reads the certificate; nothing secret is sent
    ftp = ftplib.FTP_TLS(context=context, timeout=config.timeout)  # noqa: S321 -- TLS, and no login
    try:
        ftp.connect(config.host, config.port, timeout=config.timeout)
        ftp.auth()
        return ftp.sock.getpeercert(binary_form=True)
    finally:
        ftp.close()


def certificate_names(der):
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        certificate = x509.load_der_x509_certificate(der)
        try:
            alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = [*alternative.get_values_for_type(x509.DNSName),
                     *(str(address) for address in alternative.get_values_for_type(x509.IPAddress))]
        except x509.ExtensionNotFound:
            names = [attribute.value for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    except (ImportError, ValueError):
        names = []
    return ", ".join(names) or "an unnamed host"

