"""PhotoStore: the one small contract the photo pipeline (articles/) uses, whatever the store:
HostGatorStorage (storage/backends.py, FTP) or PhotoS3Storage (storage/s3.py, any S3-compatible
object store). Both are Django storages; beyond the Storage API the pipeline calls only:

- ``save(name, content)``: never replaces a file (the next free alternative instead);
- ``save_many({name: bytes})``: in parallel, replacing (the names carry a content hash);
- ``delete_many(names)``: idempotent, for a photo's some 30 possible names at once;
- ``file_sizes(folder)``: {name: size} in one listing; ``save_own_file(name, bytes)``: the default
  images (SVG included, which photo names may not be);
- ``url(name)``: string building, no network; ``disconnect()``;
- ``most_connections``: how many connections a bulk command may open.

Errors are storage/errors.py's, the same for every store: a store that is down makes a photo wait.
What both stores share is written once here: the names they refuse, the public URL, the names
``save()`` tries."""

import posixpath
from pathlib import PurePosixPath

from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.utils import validate_file_name

from storage.errors import UnsafeName
from storage.names import check_safe_name, public_url

MAX_ALTERNATIVE_NAMES = 100


class PhotoStore:
    """Mixin for the Django storages of the photo stores. Their settings give ``base_url``; no
    default here: django-storages' BaseStorage sets only the settings a class does not define.
    What editors read of the store, in French: ``place`` (« l'hébergement des photos (HostGator) »),
    ``short`` (« HostGator »), ``when_full`` (what to do once it is full)."""

    # A bulk command's ceiling on its connections to the store: each one holds a photo in memory
    # (Render: 512 MB). HostGator's is lower: its per-IP cap.
    most_connections = 16
    most_connections_why = "each one holds a photo in memory"
    place = "le stockage des photos"
    short = "le stockage des photos"
    when_full = "demandez plus d'espace à qui le gère"

    def check_writable_name(self, name):
        try:
            return check_safe_name(name)
        except UnsafeName as unsafe:
            raise SuspiciousFileOperation(f"Refused to store '{name}': {unsafe}") from None

    def url(self, name):
        return public_url(self.base_url, name)

    def writable(self, name, content):
        """(name, content) for save(): the name checked (refused with SuspiciousFileOperation),
        the content a Django File."""
        if name is None:
            name = content.name
        if not hasattr(content, "chunks"):
            content = File(content, name)
        name = self.check_writable_name(str(name))
        validate_file_name(name, allow_relative_path=True)
        return name, content

    def candidate_names(self, name, max_length):
        """The name itself (if short enough), then Django's alternatives (name_XXXXXXX.ext)."""
        if not max_length or len(name) <= max_length:
            yield name
        folder, file_name = posixpath.split(name)
        extension = "".join(PurePosixPath(file_name).suffixes)
        root = file_name.removesuffix(extension)
        for _ in range(MAX_ALTERNATIVE_NAMES):
            candidate = posixpath.join(folder, self.get_alternative_name(root, extension))
            excess = len(candidate) - max_length if max_length else 0
            if excess > 0:
                root = root[:-excess]
                if not root:
                    return
                candidate = posixpath.join(folder, self.get_alternative_name(root, extension))
            yield candidate

    def save_many(self, files):
        raise NotImplementedError

    def delete_many(self, names):
        raise NotImplementedError

    def file_sizes(self, path):
        raise NotImplementedError

    def save_own_file(self, name, data):
        raise NotImplementedError

    def disconnect(self):
        raise NotImplementedError
