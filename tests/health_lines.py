"""check_hostgator's output as tests read it: the lines in order, their labels and marks."""

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
