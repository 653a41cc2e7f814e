from django.core.management.base import BaseCommand, CommandError

from articles.models import PendingUpload
from storage.health import check_hostgator


class Command(BaseCommand):
    help = ("Prove the whole photo chain to HostGator: connect, TLS, login, folder, probe upload, mode 644, "
            "public URL, default images, pending uploads, temporary files, the folder's .htaccess guard and its "
            "effect over HTTP (probe scripts refused or inert, nosniff), stray .htaccess files, whether the FTP "
            "account can write outside the folder. Exit 0 only when every check passes. README.md's "
            "troubleshooting table maps each ✗ to its fix.")

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true",
                            help="upload missing default images, install the .htaccess guard, delete old "
                                 "temporary upload files and stray .htaccess files in the photo folder's subfolders")

    def handle(self, *args, fix=False, **options):
        report = check_hostgator(fix=fix, count_pending=PendingUpload.objects.count,
                                 on_check=lambda check: self.stdout.write(check.line()))
        if not report.ok:
            raise CommandError(f"{report.summary()}; see README.md, Troubleshooting")
        self.stdout.write("All checks passed.")
