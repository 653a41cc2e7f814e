"""The photo stores by name, as PHOTO_STORAGE names them ("hostgator", "s3"): one made from its own
settings whatever PHOTO_STORAGE says, for the commands that move photos between two of them."""

from django.conf import settings
from django.utils.module_loading import import_string


def store_names():
    return list(settings.PHOTO_BACKENDS)


def open_store(name, **overrides):
    return import_string(settings.PHOTO_BACKENDS[name])(**overrides)
