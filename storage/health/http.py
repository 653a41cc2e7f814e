"""check_hostgator over HTTP: what the public URL of the photo folder answers, as a reader's browser
(or an attacker's) would be answered."""

import urllib.error
import urllib.request
from collections import namedtuple

USER_AGENT = "cmtch-check_hostgator"  # mod_security on shared hosts may refuse Python-urllib's default
MAX_BODY = 1024 * 1024  # a probe's answer is small; a catch-all page is not read whole

Response = namedtuple("Response", "status headers body")


def _open(url, timeout):
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310 -- checked just above
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310


def fetch(url, timeout):
    """The body of a 2xx answer; urllib.error.HTTPError for any other status."""
    with _open(url, timeout) as response:
        return response.read()


def get(url, timeout):
    """Response(status, headers, body) whatever the status; OSError or ValueError only when nothing
    answers (refused, unknown host, no answer in time, not a URL)."""
    try:
        with _open(url, timeout) as response:
            return Response(response.status, response.headers, response.read(MAX_BODY))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, error.headers, error.read(MAX_BODY))


def http_reason(error, url):
    if isinstance(error, urllib.error.HTTPError):
        # Under a public URL that maps to the folder, a 5xx is almost always an .htaccess line the
        # host refuses: « guard effect » tells which case it is.
        hint = " (an .htaccess line the host forbids? see « guard effect »)" if error.code >= 500 else ""
        return f"HTTP {error.code} at {url}{hint}"
    detail = getattr(error, "reason", None) or error
    return f"cannot fetch {url}: {detail}"
