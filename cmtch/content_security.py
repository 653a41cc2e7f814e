"""Content-Security-Policy: the static policy lives in settings (CONTENT_SECURITY_POLICY); this adds,
per request, the origins photos are served from, so img-src always follows the photo storage.

Photos are not on our origin (HostGator, later maybe an S3 bucket or CDN), and their public URL is a
setting that tests and the embedded default change at run time; reading it when the header is
written keeps one source of truth instead of a second copy of the URL in the policy.
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware
from django.conf import settings


def origin_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def photo_origins():
    """Every origin a page may load a photo from. A new store = one more URL in this list."""
    urls = [settings.HOSTGATOR_FTP.get("PUBLIC_URL"), settings.PHOTO_S3.get("PUBLIC_URL")]
    return sorted({origin for origin in map(origin_of, filter(None, urls)) if origin})


class PhotoOriginsCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, img-src extended with photo_origins() (its documented extension point)."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        parts.update = {**(parts.update or {})}
        parts.update["img-src"] = [*parts.update.get("img-src", ()), *photo_origins()]
        return parts
