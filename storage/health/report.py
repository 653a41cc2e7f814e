"""What check_hostgator says: one Check (a line) per link, ✓ ✗ ⚠ or · (not checked), collected in a
HealthReport. Every check module adds its lines through the recorder, which scrubs the password out
of them before they leave."""

from dataclasses import dataclass, field

from storage.errors import StoreError, StoreFull

OK, FAILED, WARNING, NOT_CHECKED = "✓", "✗", "⚠", "·"


@dataclass
class Check:
    label: str
    status: str
    detail: str = ""

    def line(self):
        return f"{self.status} {self.label:<16} {self.detail}".rstrip()


@dataclass
class HealthReport:
    checks: list = field(default_factory=list)

    @property
    def failed(self):
        return [check for check in self.checks if check.status == FAILED]

    @property
    def not_checked(self):
        return [check for check in self.checks if check.status == NOT_CHECKED]

    @property
    def ok(self):
        return not self.failed and not self.not_checked

    def lines(self):
        return [check.line() for check in self.checks]

    def summary(self):
        """'2 checks failed (login, folder); 8 not checked': a line not checked is not a failure of its
        own, only the consequence of one."""
        labels = ", ".join(dict.fromkeys(check.label for check in self.failed))
        count = len(self.failed)
        text = f"{count} check{'s' if count != 1 else ''} failed" + (f" ({labels})" if labels else "")
        if self.not_checked:
            text += f"; {len(self.not_checked)} not checked"
        return text


class Recorder:
    """Collects checks, scrubs the password out of them, hands each to ``on_check`` as it comes."""

    def __init__(self, password, on_check):
        self.report = HealthReport()
        self.password = password
        self.on_check = on_check

    def add(self, label, status, detail=""):
        if self.password:
            detail = detail.replace(self.password, "***")
        check = Check(label, status, detail)
        self.report.checks.append(check)
        if self.on_check:
            self.on_check(check)
        return status == OK

    def not_checked(self, labels, reason):
        for label in labels:
            self.add(label, NOT_CHECKED, f"not checked ({reason})")


def reason(error):
    """The short part of a StoreError: the server's reply (every line of it, on one line) and
    what it means; for a full host, what to do."""
    if isinstance(error, StoreError):
        reply = " | ".join(line.strip() for line in error.reply.splitlines())
        parts = [reply, f"({error.detail})" if reply and error.detail else error.detail]
        if isinstance(error, StoreFull):
            parts.append("— free space in cPanel (Disk Usage, File Manager) or ask HostGator for a larger quota")
        return " ".join(part for part in parts if part) or str(error)
    return str(error) or type(error).__name__
