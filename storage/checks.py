"""Deploy checks (``manage.py check --deploy``): production must talk to the real host, safely."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

S3_VARIABLES = {"BUCKET": "AWS_STORAGE_BUCKET_NAME", "ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
                "SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY", "PUBLIC_URL": "PHOTO_PUBLIC_URL"}


@register(Tags.security, deploy=True)
def check_photo_storage(app_configs, **kwargs):
    """PHOTO_STORAGE must name a store; with s3, everything the store needs must be there (photos
    saved to a half-configured bucket would fail one by one, and pages would point nowhere)."""
    if settings.PHOTO_STORAGE not in settings.PHOTO_BACKENDS:
        return [Error(f"PHOTO_STORAGE={settings.PHOTO_STORAGE!r}: not a photo store.",
                      hint=f"One of: {', '.join(settings.PHOTO_BACKENDS)}.", id="cmtch.E002")]
    if settings.PHOTO_STORAGE != "s3":
        return []
    missing = [variable for key, variable in S3_VARIABLES.items() if not settings.PHOTO_S3.get(key)]
    problems = []
    if missing:
        problems.append(Error(f"PHOTO_STORAGE=s3 but {', '.join(missing)} not set: photos could not be stored "
                              "or shown.", hint="Set them in Render's environment (README: Moving to R2/B2/S3).",
                              id="cmtch.E003"))
    return problems


@register(Tags.security, deploy=True)
def check_hostgator_settings(app_configs, **kwargs):
    config = settings.HOSTGATOR_FTP
    problems = []
    if settings.PHOTO_STORAGE == "s3":
        public = settings.PHOTO_S3.get("PUBLIC_URL", "")
        if public and not public.startswith("https://"):
            problems.append(Warning("PHOTO_PUBLIC_URL is not https: browsers will block the photos on the https "
                                    "site.", id="cmtch.W003"))
        return problems
    if config.get("EMBEDDED"):
        problems.append(Error(
            "HOSTGATOR_FTP_PASSWORD is not set: photos would go to the embedded local FTP server and "
            "vanish at the next deploy.",
            hint="Set HOSTGATOR_FTP_PASSWORD (and the other HOSTGATOR_* variables) in Render's environment.",
            id="cmtch.E001",
        ))
    if str(config.get("TLS", "")).lower() == "off":
        problems.append(Warning(
            "HOSTGATOR_FTP_TLS=off: the FTP password and the photos cross the internet unencrypted.",
            hint="Use HOSTGATOR_FTP_TLS=explicit; if the certificate names another host, pin it with "
                 "HOSTGATOR_FTP_TLS_FINGERPRINT.",
            id="cmtch.W001",
        ))
    if not str(config.get("PUBLIC_URL", "")).startswith("https://") and not config.get("EMBEDDED"):
        problems.append(Warning(
            "HOSTGATOR_PUBLIC_URL is not https: browsers will block the photos on the https site.",
            id="cmtch.W002",
        ))
    return problems
