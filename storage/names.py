"""Names of files in the photo folder: which are safe to write, and how renditions are named.

Pure string logic: no network, no Django.
"""

import posixpath
import re
from urllib.parse import quote

from storage.errors import UnsafeName

# Photos only. Apache on the host serves the folder as it is, so the final extension decides what a
# browser gets; anything else (pages, scripts, SVG with script) never goes in through the storage.
PHOTO_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "avif", "gif"})

# Extensions that Apache/PHP may run or serve as a page, even in the middle of a name: with
# `AddHandler application/x-httpd-php .php`, `x.php.jpg` runs as PHP on many shared hosts.
DANGEROUS_EXTENSIONS = frozenset({
    "php", "php2", "php3", "php4", "php5", "php6", "php7", "php8", "phtml", "pht", "phps", "phar", "inc",
    "cgi", "fcgi", "pl", "py", "rb", "sh", "bash", "asp", "aspx", "jsp", "jspx", "exe", "dll",
    "html", "htm", "xhtml", "shtml", "shtm", "svg", "svgz", "xml", "js", "mjs", "swf",
    "htaccess", "htpasswd", "ini", "user",
})

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")

# Temporary upload names start with this: hidden (Apache's guard refuses dot files) and easy to
# recognise for clean-up after a crash. Some Pure-FTPd set-ups refuse dot files (ProhibitDotFilesWrite):
# there the visible prefix is used, which the guard refuses too and user names may not take.
TEMP_PREFIX = ".cmtch-tmp-"
VISIBLE_TEMP_PREFIX = "cmtch-tmp-"

# Pure-FTPd and most file systems stop at 255 bytes per path segment.
MAX_SEGMENT_BYTES = 255


def check_safe_name(name):
    """Raise UnsafeName unless ``name`` is a relative photo name that stays inside the folder."""
    if not name or not isinstance(name, str):
        raise UnsafeName("empty file name")
    if CONTROL_CHARACTERS.search(name) or "\\" in name:
        raise UnsafeName(f"file name {name!r} contains control characters or a backslash")
    if name.startswith("/") or "://" in name:
        raise UnsafeName(f"file name {name!r} must be relative to the photo folder")
    segments = name.split("/")
    for segment in segments:
        if segment in {"", ".", ".."}:
            raise UnsafeName(f"file name {name!r} has an empty, '.' or '..' part")
        if segment.startswith("."):
            raise UnsafeName(f"file name {name!r} has a hidden part ({segment!r})")
        if is_temporary(segment):
            raise UnsafeName(f"file name {name!r} looks like a temporary upload ({VISIBLE_TEMP_PREFIX}...)")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise UnsafeName(f"file name {name!r} has a part longer than {MAX_SEGMENT_BYTES} bytes")
    extensions = [part.lower().strip() for part in segments[-1].split(".")[1:]]
    if not extensions or extensions[-1] not in PHOTO_EXTENSIONS:
        raise UnsafeName(f"file name {name!r} does not end in a photo extension "
                         f"({', '.join(sorted(PHOTO_EXTENSIONS))})")
    dangerous = DANGEROUS_EXTENSIONS.intersection(extensions)
    if dangerous:
        raise UnsafeName(f"file name {name!r} contains an extension the web server may run: "
                         f"{', '.join(sorted(dangerous))}")
    return name


def rendition_name(name, width=None, extension=None):
    """'2026/11/match-ab12.jpg', 480 -> '2026/11/match-ab12-480w.jpg'; with extension "avif":
    '2026/11/match-ab12-480w.avif', and without a width the photo's full size in that format,
    '2026/11/match-ab12.avif'. Derived, so pages build every rendition URL from the photo's name
    alone (and clean-up finds every file a photo may have)."""
    stem, own_extension = posixpath.splitext(name)
    suffix = f".{extension}" if extension else own_extension
    return f"{stem}-{width}w{suffix}" if width else f"{stem}{suffix}"


def is_temporary(filename):
    return posixpath.basename(filename).startswith((TEMP_PREFIX, VISIBLE_TEMP_PREFIX))


CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "avif": "image/avif", "gif": "image/gif", "svg": "image/svg+xml"}


def content_type_of(name):
    """The Content-Type a store must serve ``name`` with (the default images' SVG included)."""
    return CONTENT_TYPES.get(posixpath.splitext(name)[1].lstrip(".").lower(), "application/octet-stream")


def public_url(base_url, name):
    """Pure string building, no network: the public URL of the folder + the percent-encoded name.
    Legacy rows that stored a full URL get it back as it is."""
    name = str(name)
    if name.startswith(("http://", "https://")):
        return name
    return base_url + quote(name.replace("\\", "/"), safe="/~!*()'").lstrip("/")  # Django's filepath_to_uri
