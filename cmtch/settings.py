"""Settings for cmtch.online. Everything comes from the environment (names in ../shared/DESIGN.md).

With no HOSTGATOR_FTP_PASSWORD the site runs on the *embedded default*: a local FTP server on
loopback (``python -m storage.embedded``) standing in for HostGator, so the whole photo chain works
with no external service. ``check --deploy`` reports an error if production runs that way.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_flag("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment (Render: generateValue in "
            "render.yaml), or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1")
if os.environ.get("RENDER_EXTERNAL_HOSTNAME"):
    ALLOWED_HOSTS.append(os.environ["RENDER_EXTERNAL_HOSTNAME"])
CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS if host not in {"localhost", "127.0.0.1"}]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "storage",
    "articles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cmtch.urls"
WSGI_APPLICATION = "cmtch.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite's default "deferred" transactions read first and then cannot wait for the write lock:
    # 4 editors saving at once got 4 "database is locked" (bench/host_limits). IMMEDIATE takes the
    # lock at BEGIN, so they queue instead (up to `timeout` seconds).
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Africa/Tunis"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Photos: HostGator over FTP (the default storage) -------------------------------------------
HOSTGATOR_DEFAULTS = {
    "HOST": "ftp.novaprint.tn",
    "PORT": 21,
    "USER": "cmtch@cmtch.online",
    "DIR": "/public_html/static/article_images/",
    "PUBLIC_URL": "https://www.cmtch.online/static/article_images/",
}
if os.environ.get("HOSTGATOR_FTP_PASSWORD"):
    HOSTGATOR_FTP = {
        "HOST": os.environ.get("HOSTGATOR_FTP_HOST", HOSTGATOR_DEFAULTS["HOST"]),
        "PORT": int(os.environ.get("HOSTGATOR_FTP_PORT", HOSTGATOR_DEFAULTS["PORT"])),
        "USER": os.environ.get("HOSTGATOR_FTP_USER", HOSTGATOR_DEFAULTS["USER"]),
        "PASSWORD": os.environ["HOSTGATOR_FTP_PASSWORD"],
        "DIR": os.environ.get("HOSTGATOR_FTP_DIR", HOSTGATOR_DEFAULTS["DIR"]),
        "PUBLIC_URL": os.environ.get("HOSTGATOR_PUBLIC_URL", HOSTGATOR_DEFAULTS["PUBLIC_URL"]),
        "TLS": os.environ.get("HOSTGATOR_FTP_TLS", "explicit"),
        "CA_FILE": os.environ.get("HOSTGATOR_FTP_CA_FILE") or None,
        "TLS_FINGERPRINT": os.environ.get("HOSTGATOR_FTP_TLS_FINGERPRINT") or None,
        "TIMEOUT": float(os.environ.get("HOSTGATOR_FTP_TIMEOUT", "15")),
        "PASSIVE": env_flag("HOSTGATOR_FTP_PASSIVE", default=True),
        # 3 per process: a photo's 3 files in parallel; the host's 8 per IP leave room for a command.
        "MAX_CONNECTIONS": int(os.environ.get("HOSTGATOR_FTP_MAX_CONNECTIONS", "3")),
        "TRANSFER_TIMEOUT": float(os.environ.get("HOSTGATOR_FTP_TRANSFER_TIMEOUT", "60")),
        "FILE_MODE": os.environ.get("HOSTGATOR_FTP_FILE_MODE", "644") or None,
        "EMBEDDED": False,
    }
else:
    from storage.embedded_state import embedded_hostgator_settings

    HOSTGATOR_FTP = embedded_hostgator_settings(
        Path(os.environ.get("EMBEDDED_HOSTGATOR_DIR", BASE_DIR / ".embedded"))
    )

# Shipped in storage/default_images/ and put on the host by `check_hostgator --fix`.
DEFAULT_IMAGE_NAMES = ("default_article.jpg", "default_article.svg")
DEFAULT_IMAGE_NAME = DEFAULT_IMAGE_NAMES[0]

# Where photos live (DESIGN.md): HostGator by FTP(S), or any S3-compatible object store.
PHOTO_STORAGE = os.environ.get("PHOTO_STORAGE", "hostgator").strip().lower() or "hostgator"
PHOTO_BACKENDS = {"hostgator": "storage.backends.HostGatorStorage", "s3": "storage.s3.PhotoS3Storage"}
PHOTO_S3 = {
    "BUCKET": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
    "ENDPOINT_URL": os.environ.get("AWS_S3_ENDPOINT_URL", ""),  # R2: https://<account>.r2.cloudflarestorage.com
    "REGION": os.environ.get("AWS_S3_REGION_NAME", ""),  # R2: auto
    "ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", ""),
    "SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
    # The bucket's public URL, custom domain or CDN; photos are NAME appended to it.
    "PUBLIC_URL": (os.environ.get("PHOTO_PUBLIC_URL", "").rstrip("/") + "/") if os.environ.get("PHOTO_PUBLIC_URL")
    else "",
    # As on FTP: seconds per reply, and for a whole operation (every retry and byte included).
    "TIMEOUT": float(os.environ.get("HOSTGATOR_FTP_TIMEOUT", "15")),
    "TRANSFER_TIMEOUT": float(os.environ.get("HOSTGATOR_FTP_TRANSFER_TIMEOUT", "60")),
    "MAX_CONNECTIONS": int(os.environ.get("HOSTGATOR_FTP_MAX_CONNECTIONS", "3")),
}

STORAGES = {
    "default": {"BACKEND": PHOTO_BACKENDS.get(PHOTO_STORAGE, PHOTO_BACKENDS["hostgator"])},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Upload limits for article photos (the form refuses more, with a French message).
PHOTO_MAX_BYTES = int(os.environ.get("PHOTO_MAX_BYTES", 15 * 1024 * 1024))
PHOTO_MAX_PIXELS = int(os.environ.get("PHOTO_MAX_PIXELS", 40_000_000))
PHOTO_MAX_SIDE = int(os.environ.get("PHOTO_MAX_SIDE", 2048))
# Widths a photo is served at besides its own (storage/renditions.py), in its own format and in
# PHOTO_MODERN_FORMATS: steps of about 25 %, so every common screen (a 360-430 px phone at DPR 2-3,
# a desktop at 1 or 2) gets a file within ~25 % of what it shows (bench/photo_pages.py).
PHOTO_RENDITION_WIDTHS = (320, 400, 480, 640, 800, 1024, 1280, 1600)
PHOTO_MODERN_FORMATS = ("avif", "webp")
# Made before the save answers (in the photo's own format): the CPU budget per photo on the request
# path is 0.35 s of one core for a 12 MP phone photo. Everything else -- the other widths, AVIF and
# WebP -- is made once the photo is on the store, by PHOTO_RENDITIONS_LATER:
#   "background": a thread of the web process, at the lowest CPU priority (the default);
#   "now": right after the upload, in the same request (tests, scripts);
#   "off": left to `manage.py regenerate_renditions`.
# Pages list only files that exist (Photo.files), so a photo is served in JPEG until its AVIF is there.
PHOTO_WIDTHS_AT_UPLOAD = (480, 1024)
PHOTO_RENDITIONS_LATER = os.environ.get("PHOTO_RENDITIONS_LATER", "background")
# Memory (Render's free instance: 512 MB in all; storage/photo_budget.py, bench/memory.py). A format
# whose decoding costs more per pixel has a lower cap, each overridable by PHOTO_MAX_PIXELS_<FORMAT>:
# WebP has no cheap path in Pillow (two full-size RGBA canvases and a copy: about 16 bytes a pixel);
# HEIC costs about 5 bytes a pixel in libheif (40 MP: 200 MB), so 32 MP (an iPhone's 24 MP passes).
PHOTO_MAX_PIXELS_BY_FORMAT = {
    image_format: min(PHOTO_MAX_PIXELS, int(os.environ.get(f"PHOTO_MAX_PIXELS_{name}", default)))
    for image_format, name, default in (("JPEG", "JPEG", 40_000_000), ("PNG", "PNG", 40_000_000),
                                        ("GIF", "GIF", 40_000_000), ("WEBP", "WEBP", 12_000_000),
                                        ("HEIF", "HEIC", 32_000_000))
}
# Photos decoded at once per process (the others wait for their turn), and how long one waits
# before the editor is told to try again: on 0.1 CPU a 40 MP photo takes 10-30 s, so the third of
# three editors uploading at once may wait about a minute.
PHOTO_DECODES_AT_ONCE = int(os.environ.get("PHOTO_DECODES_AT_ONCE", 1))
PHOTO_DECODE_WAIT_SECONDS = float(os.environ.get("PHOTO_DECODE_WAIT_SECONDS", 60))
# Django must not refuse a 15 MB photo before our own check can explain why.
DATA_UPLOAD_MAX_MEMORY_SIZE = PHOTO_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security (check --deploy clean when DEBUG is off) ----------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # Render terminates TLS
if not DEBUG:
    SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz is probed by Render over plain HTTP from inside its network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Admin login, sessions, browser security headers (issue 8 §5) -------------------------------
# Kept in one block, apart from the photo settings above.
from datetime import timedelta  # noqa: E402

from csp.constants import NONCE, NONE, SELF  # noqa: E402

INSTALLED_APPS += ["axes", "csp"]
MIDDLEWARE += [
    "cmtch.content_security.PhotoOriginsCSPMiddleware",
    # Django 5.2 has no setting for Permissions-Policy; this small library (Adam Johnson's) sends it.
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # Last, as django-axes requires: it turns a login attempt flagged as locked out into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# Axes' backend comes first and refuses a locked-out user+IP before ModelBackend runs the password
# hasher: a locked-out attempt costs a database lookup, not 0.5 s of PBKDF2 on Render's 0.1 CPU.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# Proxies in front of Django that append the client's address to X-Forwarded-For: Render has exactly
# one (it sets RENDER=true in the service's environment); none in local development and tests.
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "1" if os.environ.get("RENDER") else "0"))

# Lock one username from one address after a few wrong passwords; an editor elsewhere (another
# address) is not locked out by someone guessing their password.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A right password before the limit clears the count; a wrong one during the lockout restarts the cool-off
# (axes' default), so only whoever keeps guessing stays locked out.
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "cmtch.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "axes/lockout.html"
AXES_VERBOSE = False  # its start-up banner would open every command's output and log

# An admin session lasts a working day, not Django's two weeks, and ends with the browser: the site
# has no public accounts, so these global settings only concern editors. The server forgets a session
# after the 8 h even when a browser that restores its tabs brings the cookie back.
SESSION_COOKIE_AGE = int(os.environ.get("DJANGO_SESSION_HOURS", "8")) * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Everything from our own origin, photos from where they are stored (added per request by
# cmtch.content_security); no inline script anywhere, and no inline style but the one <style> a page
# carries with this response's nonce (its photos' placeholders, base.html): no style attribute ever.
# data: images are those placeholders, a few dozen bytes each (an image cannot run script).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# The site uses none of these browser features: nobody (nor any embedded frame) may ask for them.
PERMISSIONS_POLICY = {feature: [] for feature in (
    "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen", "geolocation",
    "gyroscope", "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get", "usb",
    "browsing-topics",
)}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        # django-axes logs every login at INFO ("Deleted 0 failed login attempts..."); lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}
