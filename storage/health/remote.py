"""Small remote-file steps check_hostgator needs beyond what the storage offers, built on
FTPConnection's public methods only (storage/ftp/connection.py stays the one transport)."""

import io

from storage.ftp.replies import translate


def store_once(connection, path, data):
    """One plain STOR of ``data`` at ``path``: no temporary name, no folder made, no retry. For probes
    whose very question is whether the server takes the file there (a name the storage refuses on
    purpose, a folder outside the photo folder); raises StoreError (StoreRefused when the
    server says no)."""
    try:
        connection.ftp.storbinary(f"STOR {path}", io.BytesIO(data))
    except Exception as error:
        raise translate(error, "STOR", path) from None


def read_remote_file(connection, path):
    """The bytes of a small remote file, or None if it is not there."""
    if connection.stat(path) is None:
        return None
    chunks = []
    connection.retrieve(path, chunks.append)
    return b"".join(chunks)
