"""The address of the person behind a request, as the login lockout (django-axes) counts it.

On Render one proxy stands between the browser and Django: REMOTE_ADDR is that proxy, and it
*appends* the address that connected to it to X-Forwarded-For. Whatever a client puts in its own
X-Forwarded-For ends up to the left of that entry, so only the right-most ``TRUSTED_PROXY_COUNT``
entries were written by proxies we trust; the one at ``-TRUSTED_PROXY_COUNT`` is the client. Anything
further left is the client's say-so and is never read (else a new forged value on every attempt
would reset the failure counter).

Axes would otherwise use django-ipware, a further dependency whose general rules (a list of headers
tried in turn, private addresses skipped) are more than this one rule needs, and harder to check.
"""

from django.conf import settings


def client_ip(request):
    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote_addr
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        # Fewer entries than trusted proxies: the request did not come the way we expect (a direct
        # hit on the instance); the socket's address is the only one not chosen by the client.
        return remote_addr
    return hops[-proxies]
