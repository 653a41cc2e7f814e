import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from articles.photo_transfer import ALREADY_THERE, COPIED, FAILED, MISSING, NOT_TRIED, transfer_photos
from storage.stores import open_store, store_names, workers_refusal


class Command(BaseCommand):
    help = ("Copy every photo (originals, renditions) and the default images from one photo store to the other, "
            "verified; the rows keep their names, so switching PHOTO_STORAGE afterwards changes only the base URL. "
            "Idempotent, resumable.")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, choices=store_names(),
                            help="the store to copy from")
        parser.add_argument("--to", dest="destination", required=True, choices=store_names(),
                            help="the store to copy to")
        parser.add_argument("--dry-run", action="store_true", help="report what would be copied, touch nothing")
        parser.add_argument("--workers", type=int, default=4, help="photos copied at once (default 4)")
        parser.add_argument("--limit", type=int, default=None, help="copy at most N photos (a trial run)")

    def handle(self, *args, source, destination, dry_run=False, workers=4, limit=None, verbosity=1, **options):
        if source == destination:
            raise CommandError("--from and --to name the same store")
        refusal = workers_refusal(workers, [source, destination])
        if refusal:
            raise CommandError(refusal)
        stores = open_store(source, max_connections=workers), open_store(destination, max_connections=workers)
        bar = tqdm(unit="photo", disable=not sys.stderr.isatty() or verbosity == 0, file=sys.stderr)

        def progress(outcome):
            bar.update()
            if outcome.status in {FAILED, MISSING} or verbosity >= 2:
                line = f"{outcome.status:13} {outcome.label}: {outcome.name}"
                line += f" ({outcome.detail})" if outcome.detail else f" ({outcome.files} files)"
                bar.write(line) if not bar.disable else self.stdout.write(line)

        try:
            report = transfer_photos(*stores, dry_run=dry_run, workers=workers, limit=limit, progress=progress)
        finally:
            bar.close()
            for store in stores:
                store.disconnect()
        verb = "would be " if dry_run else ""
        self.stdout.write(
            f"{'DRY RUN — nothing changed. ' if dry_run else ''}{len(report.of(COPIED))} {verb}copied "
            f"({report.files} files, {report.bytes / 1e6:.1f} MB), {len(report.of(ALREADY_THERE))} already there, "
            f"{len(report.of(MISSING))} missing on {source}, {len(report.of(FAILED))} failed"
            f"{f', {len(report.of(NOT_TRIED))} not tried' if report.of(NOT_TRIED) else ''}")
        if not report.ok:
            raise CommandError(f"{len(report.of(FAILED)) + len(report.of(NOT_TRIED))} photo(s) not copied; fix the "
                               "cause and run again (it resumes)")
