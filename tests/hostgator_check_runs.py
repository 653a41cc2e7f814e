"""Running check_hostgator in tests: how its output is read (Result, LINKS) and the fixtures that run it
(a pytest plugin, see conftest.py): ``run`` (the command, with every password in use checked absent from
its output and the log) and ``healthy`` (the embedded host once --fix has run)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from storage.shipped import DEFAULT_IMAGES_DIR

LINKS = ["connect", "TLS certificate", "login", "folder", "folder writable", "probe upload", "mode 644", "public URL",
         "probe deleted", "default image", "default image", "pending uploads", "temporary files", ".htaccess guard",
         "guard effect", "nosniff", "stray .htaccess", "FTP confinement"]
# The embedded host's account sees the whole hosting, as HostGator's main FTP account does.
NOT_CONFINED = "FTP confinement"


class Result:
    def __init__(self, code, output):
        self.code, self.output = code, output
        self.lines = [line for line in output.splitlines() if line[:2] in {"✓ ", "✗ ", "⚠ ", "· "}]

    def labels(self):
        return [line[2:18].rstrip() for line in self.lines]

    def status(self, label):
        """The marks of the lines with this label ('✓✓' for the two default images)."""
        return "".join(line[0] for line in self.lines if line[2:18].rstrip() == label)

    def line(self, label):
        return next(line for line in self.lines if line[2:18].rstrip() == label)


@pytest.fixture
def run(settings, caplog):
    """Run the command; every run's output and log are checked for the password(s) in use."""
    secrets_seen = []

    def run_command(*arguments):
        secrets_seen.append(settings.HOSTGATOR_FTP["PASSWORD"])
        output = io.StringIO()
        try:
            call_command("check_hostgator", *arguments, stdout=output)
            code = 0
        except CommandError as error:
            output.write(f"CommandError: {error}\n")
            code = 1
        result = Result(code, output.getvalue())
        for secret in secrets_seen:
            assert secret not in result.output and secret not in caplog.text
        return result

    return run_command


@pytest.fixture
def healthy(hostgator, run):
    """The embedded host once --fix has installed the default images and the guard."""
    shipped = sorted(path.name for path in DEFAULT_IMAGES_DIR.glob("default_article.*"))
    assert shipped == ["default_article.jpg", "default_article.svg"], "storage/default_images/ must ship both"
    assert run("--fix").code == 0
    hostgator.forget_commands()
    return hostgator


def photo_files(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
