import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from articles.photo_migration import FAILED, MIGRATED, MISSING, NORMALISED, default_sources, migrate_images
from storage.stores import workers_refusal


class Command(BaseCommand):
    help = ("Move the photos of existing articles to the photo store the pages show (HostGator, or the bucket "
            "when PHOTO_STORAGE=s3): local files (--source) and legacy URLs are normalised, uploaded with their "
            "renditions and checked before the row changes. Idempotent, resumable.")

    def add_arguments(self, parser):
        parser.add_argument("--source", action="append", default=None, metavar="DIR",
                            help="folder holding old photos (repeatable); default: media/ and static/article_images/")
        parser.add_argument("--dry-run", action="store_true", help="report what would be done, touch nothing")
        parser.add_argument("--workers", type=int, default=4, help="parallel connections to the store (default 4)")
        parser.add_argument("--limit", type=int, default=None,
                            help="handle at most N articles not migrated yet (a trial run)")

    def handle(self, *args, source=None, dry_run=False, workers=4, limit=None, verbosity=1, **options):
        # Always the store the pages show: a row renamed onto another one would show broken.
        store = settings.PHOTO_STORAGE
        refusal = workers_refusal(workers, [store])
        if refusal:
            raise CommandError(refusal)
        if source:
            # A mistyped --source would make every photo "missing" and clear the rows: refuse it.
            unknown = [folder for folder in source if not Path(folder).is_dir()]
            if unknown:
                raise CommandError(f"--source {', '.join(unknown)}: no such folder")
            sources = source
        else:
            sources = [folder for folder in default_sources() if folder.is_dir()]
            self.stdout.write(f"Looking for photos in {', '.join(map(str, sources)) or 'no folder'} "
                              f"(default folders; --source DIR to name others)")
        bar = tqdm(unit="photo", disable=not sys.stderr.isatty() or verbosity == 0, file=sys.stderr)

        def progress(outcome):
            bar.update()
            if verbosity >= 2 or (outcome.status in {FAILED, MISSING} and verbosity >= 1):
                line = f"{outcome.status:13} photo {outcome.photo_id}: {outcome.old}"
                if outcome.new and outcome.new != outcome.old:
                    line += f" -> {outcome.new}"
                if outcome.detail and verbosity >= 2 or outcome.status == FAILED:
                    line += f" ({outcome.detail})"
                bar.write(line) if not bar.disable else self.stdout.write(line)

        report = migrate_images(sources=sources, dry_run=dry_run, workers=workers, limit=limit, progress=progress,
                                store=store)
        bar.close()
        counts = report.counts()
        verb = "would be " if dry_run else ""
        self.stdout.write(
            f"{'DRY RUN — nothing changed. ' if dry_run else ''}"
            f"{counts[MIGRATED]} {verb}migrated, {counts['already there']} already there, "
            f"{counts[NORMALISED]} {verb}normalised, {counts[MISSING]} missing"
            f"{' (taken out of their galleries)' if counts[MISSING] and not dry_run else ''}, {counts[FAILED]} failed"
        )
        for outcome in report.of(MISSING):
            self.stdout.write(f"  missing: photo {outcome.photo_id}: {outcome.old}")
        if not report.ok:
            raise CommandError(f"{counts[FAILED]} photo(s) failed; fix the cause and run again (it resumes)")
