from django.core.management.base import BaseCommand, CommandError

from articles.models import PendingUpload
from storage.health import check_hostgator


class Command(BaseCommand):
    help = ("Prove the whole photo chain to HostGator: connect, TLS, login, folder, probe upload, mode 644, "
            "public URL, default images, pending uploads, temporary files, the folder's .htaccess guard. "
            "Exit 0 only when every check passes. README.md's troubleshooting table maps each ✗ to its fix.")

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true",
                            help="upload missing default images, install the .htaccess guard, delete old "
                                 "temporary upload files")

    def handle(self, *args, fix=False, **options):
        report = check_hostgator(fix=fix, count_pending=PendingUpload.objects.count,
                                 on_check=lambda check: self.stdout.write(check.line()))
        if not report.ok:
            labels = ", ".join(dict.fromkeys(check.label for check in report.failures))
            raise CommandError(f"{len(report.failures)} check(s) did not pass ({labels}); "
                               f"see README.md, Troubleshooting")
        self.stdout.write("All checks passed.")
