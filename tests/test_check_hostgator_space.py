"""check_hostgator on a host that fills up (issue 8 §4): the quota use Pure-FTPd reports at login is
shown, with a warning near full, and a full host is named as such with what to do -- never "does
not answer". Real servers: Pure-FTPd with a quota as cPanel sets one, pyftpdlib answering 552."""

import pytest

from storage.backends import HostGatorStorage

pytestmark = pytest.mark.django_db


def test_an_almost_full_account_is_a_warning(pure_ftpd, settings, run):
    server = pure_ftpd(quota_mb=1)
    settings.HOSTGATOR_FTP = server.settings
    assert run("--fix").status("hosting space") == "✓"
    storage = HostGatorStorage()
    storage.save_many({"2026/12/big-0123456789.jpg": bytes(range(251)) * 3800})  # 950 KB of the 1 MB
    storage.disconnect()
    line = run().line("hosting space")
    assert line.startswith("⚠") and "% of the account's quota used" in line and "cPanel" in line


def test_a_full_host_is_said_full_with_the_fix(healthy, hostgator, run):
    hostgator.faults.reply("STOR", "552-Transfer aborted (quota)\r\n552 Quota exceeded: [probe] won't be saved",
                           times=None)
    result = run()
    assert result.code == 1
    refused = [line for line in result.lines if "Quota exceeded" in line]
    assert refused and all(line.startswith("✗") for line in refused)
    assert "Transfer aborted (quota) | 552 Quota exceeded" in refused[0]  # the whole reply, on one line
    assert "free space in cPanel" in refused[0]
    assert "does not answer" not in result.output


def test_no_quota_line_where_the_server_says_nothing(healthy, run):
    assert "hosting space" not in run().labels()
