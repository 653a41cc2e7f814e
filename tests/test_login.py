"""Admin login (issue 8 §5): lockout per username + client address (django-axes), the client address
behind Render's proxy, the unlock command, session length, and the security headers."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from cmtch.client_ip import client_ip

PASSWORD = "le-bon-mot-de-passe-42"
LOGIN = reverse("admin:login")
RENDER_PROXY = "10.201.3.4"  # REMOTE_ADDR seen by Django on Render: the proxy, never the client


@pytest.fixture
def editor(django_user_model):
    return django_user_model.objects.create_superuser("editeur", "e@example.org", PASSWORD)


def log_in(client, password, **headers):
    return client.post(LOGIN, {"username": "editeur", "password": password, "next": "/admin/"}, **headers)


def logged_in(client):
    return "_auth_user_id" in client.session


def fail(client, times, **headers):
    return [log_in(client, f"faux-{attempt}", **headers).status_code for attempt in range(times)]


def end_cool_off(settings):
    """What waiting out the cool-off does, without waiting: every recorded failure becomes older than it."""
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


@pytest.mark.django_db
def test_ten_wrong_passwords_lock_the_right_one_out_until_the_cool_off(client, editor, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)  # not the default: the page reads the setting
    statuses = fail(client, 10)
    assert statuses[:settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert statuses[settings.AXES_FAILURE_LIMIT:] == [429] * (10 - settings.AXES_FAILURE_LIMIT)

    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert not logged_in(client)
    page = " ".join(refused.content.decode().split())
    assert "Compte temporairement bloqué" in page
    assert "pendant 30 minutes" in page
    assert "responsable du site" in page

    end_cool_off(settings)
    accepted = log_in(client, PASSWORD)
    assert accepted.status_code == 302 and accepted["Location"] == "/admin/"
    assert logged_in(client)


@pytest.mark.django_db
def test_a_success_before_the_limit_resets_the_count(client, editor, settings):
    fail(client, settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    assert fail(client, settings.AXES_FAILURE_LIMIT - 1) == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lockout_is_per_address(client, editor, settings):
    fail(client, settings.AXES_FAILURE_LIMIT, REMOTE_ADDR="192.0.2.10")
    assert log_in(client, PASSWORD, REMOTE_ADDR="192.0.2.10").status_code == 429
    assert log_in(client, PASSWORD, REMOTE_ADDR="192.0.2.11").status_code == 302


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_reset_the_count_behind_renders_proxy(client, editor, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    def through_render(real_client, forged):
        # What Render's proxy passes on: the client's own header, then the address it saw, right-most.
        return {"REMOTE_ADDR": RENDER_PROXY, "HTTP_X_FORWARDED_FOR": f"{forged}, {real_client}"}

    for attempt in range(10):
        log_in(client, "faux", **through_render("203.0.113.7", f"198.51.100.{attempt}"))
    assert log_in(client, PASSWORD, **through_render("203.0.113.7", "198.51.100.200")).status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.7"]
    # Another person behind the same proxy is not locked out: the proxy's own address is not the key.
    assert log_in(client, PASSWORD, **through_render("203.0.113.8", "203.0.113.7")).status_code == 302


@pytest.mark.parametrize(("proxies", "meta", "expected"), [
    (0, {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "198.51.100.9"}, "192.0.2.1"),
    (1, {"REMOTE_ADDR": RENDER_PROXY, "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
    (1, {"REMOTE_ADDR": RENDER_PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.9, 1.2.3.4 ,203.0.113.7"}, "203.0.113.7"),
    (2, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.7, 10.0.0.1"}, "203.0.113.7"),
    (1, {"REMOTE_ADDR": "192.0.2.1"}, "192.0.2.1"),
])
def test_client_ip_trusts_only_what_the_proxies_appended(settings, proxies, meta, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(RequestFactory().get("/", **meta)) == expected


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that counts how often a password is checked (PBKDF2 would be 0.5 s each on Render)."""

    verified = 0

    def verify(self, password, encoded):
        CountingHasher.verified += 1
        return super().verify(password, encoded)


@pytest.mark.django_db
def test_a_locked_out_attempt_never_runs_the_password_hasher(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["tests.test_login.CountingHasher"]
    django_user_model.objects.create_superuser("editeur", "e@example.org", PASSWORD)
    CountingHasher.verified = 0
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert CountingHasher.verified == settings.AXES_FAILURE_LIMIT
    fail(client, 20)
    assert log_in(client, PASSWORD).status_code == 429
    assert CountingHasher.verified == settings.AXES_FAILURE_LIMIT


@pytest.mark.django_db
def test_the_readme_unlock_command_unlocks(client, editor, settings, capsys):
    fail(client, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, PASSWORD).status_code == 429
    call_command("axes_reset_username", "editeur")  # README: python manage.py axes_reset_username <identifiant>
    assert log_in(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_attempts_admin_is_in_french(client, editor, settings):
    fail(client, 2)
    client.force_login(editor)
    page = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "tentatives de connexion" in page.lower()
    assert "editeur" in page


@pytest.mark.django_db
def test_an_admin_session_lasts_hours_and_ends_with_the_browser(client, editor):
    assert log_in(client, PASSWORD).status_code == 302
    cookie = client.cookies["sessionid"]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    lifetime = Session.objects.get().expire_date - timezone.now()
    assert timedelta(hours=7, minutes=55) < lifetime <= timedelta(hours=8)


@pytest.mark.django_db
def test_pages_send_the_content_security_and_permissions_policies(client, settings):
    settings.HOSTGATOR_FTP = {**settings.HOSTGATOR_FTP, "PUBLIC_URL": "https://www.cmtch.online/static/article_images/"}
    settings.PHOTO_S3 = {**settings.PHOTO_S3, "PUBLIC_URL": "https://photos.example.net/cmtch/"}  # PHOTO_PUBLIC_URL
    response = client.get(reverse("articles:list"))
    directives = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["img-src"].split() == ["'self'", "data:", "https://photos.example.net", "https://www.cmtch.online"]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'" and directives["form-action"] == "'self'"
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


@pytest.mark.django_db
def test_the_lockout_page_has_the_policies_too(client, editor, settings):
    fail(client, settings.AXES_FAILURE_LIMIT)
    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert "frame-ancestors 'none'" in refused["Content-Security-Policy"]
    assert "camera=()" in refused["Permissions-Policy"]


@pytest.mark.parametrize(("environment", "expected"), [
    ({}, "0 28800"),  # local development and tests: no proxy, 8 h sessions
    ({"RENDER": "true"}, "1 28800"),  # Render sets RENDER: its one proxy
    ({"RENDER": "true", "DJANGO_TRUSTED_PROXY_COUNT": "2", "DJANGO_SESSION_HOURS": "2"}, "2 7200"),
])
def test_proxy_count_and_session_length_follow_the_environment(environment, expected):
    from tests.test_site import run_manage

    result = run_manage("shell", "-c", "from django.conf import settings; "
                        "print(settings.TRUSTED_PROXY_COUNT, settings.SESSION_COOKIE_AGE)",
                        DJANGO_DEBUG="1", LOG_LEVEL="WARNING", **environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
