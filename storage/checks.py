"""Deploy checks (``manage.py check --deploy``): production must talk to the real host, safely."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_hostgator_settings(app_configs, **kwargs):
    config = settings.HOSTGATOR_FTP
    problems = []
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
