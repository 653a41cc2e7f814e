"""The photo stores by name, as PHOTO_STORAGE names them ("hostgator", "s3"): one made from its own
settings whatever PHOTO_STORAGE says, for the commands that move photos between two of them."""

from django.conf import settings
from django.utils.module_loading import import_string


def store_names():
    return list(settings.PHOTO_BACKENDS)


def store_class(name):
    return import_string(settings.PHOTO_BACKENDS[name])


def open_store(name, **overrides):
    return store_class(name)(**overrides)


def workers_refusal(workers, names):
    """Why ``workers`` connections to each of these stores are refused, or None: at least one, at
    most the lowest ``most_connections`` of the stores."""
    lowest = min((store_class(name) for name in names), key=lambda store: store.most_connections)
    if 1 <= workers <= lowest.most_connections:
        return None
    return f"--workers must be between 1 and {lowest.most_connections} ({lowest.most_connections_why})"
