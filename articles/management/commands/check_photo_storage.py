from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from articles.models import PendingUpload
from storage.health import check_hostgator
from storage.health.s3 import check_s3


class Command(BaseCommand):
    help = ("Prove the photo chain on the store PHOTO_STORAGE names: on hostgator, what check_hostgator checks; on "
            "s3, the settings, the bucket, a probe photo saved, read back, fetched at its public URL with its "
            "Content-Type and Cache-Control, deleted, the default images, pending uploads. Exit 0 only when every "
            "check passes.")

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="upload missing default images (and on hostgator "
                                                              "everything check_hostgator --fix does)")

    def handle(self, *args, fix=False, **options):
        check = check_s3 if settings.PHOTO_STORAGE == "s3" else check_hostgator
        self.stdout.write(f"Photo store: {settings.PHOTO_STORAGE}")
        report = check(default_storage, fix=fix, count_pending=PendingUpload.objects.count,
                       on_check=lambda line: self.stdout.write(line.line()))
        if not report.ok:
            raise CommandError(f"{report.summary()}; see README.md, Troubleshooting")
        self.stdout.write("All checks passed.")
