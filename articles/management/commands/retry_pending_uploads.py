from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from articles.photos import retry_pending_uploads
from articles.rendition_queue import wait_until_done


class Command(BaseCommand):
    help = ("Push the photos that the photo store could not take at save time (PendingUpload rows) and "
            "show them on their articles' pages. Safe to run concurrently and again.")

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="push at most N photos")

    def handle(self, *args, limit=None, **options):
        report = retry_pending_uploads(limit=limit)
        if report.pushed:
            self.stdout.write("Making the pushed photos' other widths, AVIF and WebP…")
            wait_until_done()  # the background thread's work would die with this process
        for name in report.pushed:
            self.stdout.write(f"pushed   {name}")
        for name, error in report.failed:
            self.stdout.write(f"waiting  {name}: {error}")
        waiting = len(report.failed) + report.not_tried
        self.stdout.write(f"{len(report.pushed)} pushed, {waiting} still waiting"
                          + (f" ({report.not_tried} not tried: the host is down)" if report.not_tried else ""))
        if not report.ok:
            raise CommandError(f"{len(report.failed)} photo(s) could not be pushed; "
                               f"{default_storage.short} still failing")
