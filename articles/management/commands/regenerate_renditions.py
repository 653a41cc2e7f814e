import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from articles.photo_regeneration import DONE, FAILED, NOT_TRIED, regenerate_renditions


class Command(BaseCommand):
    help = ("Make the files (widths of the ladder, AVIF, WebP) that photos on the store lack, from their originals "
            "downloaded once; pages use each new file once it is recorded. Idempotent, resumable.")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would be made, touch nothing")
        parser.add_argument("--workers", type=int, default=2,
                            help="photos handled at once (default 2; each holds one FTP connection)")
        parser.add_argument("--limit", type=int, default=None, help="handle at most N photos that lack files")

    def handle(self, *args, dry_run=False, workers=2, limit=None, verbosity=1, **options):
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        bar = tqdm(unit="photo", disable=not sys.stderr.isatty() or verbosity == 0, file=sys.stderr)

        def progress(outcome):
            bar.update()
            if outcome.status == FAILED or verbosity >= 2:
                line = f"{outcome.status:9} photo {outcome.photo_id}: {outcome.name}"
                line += f" ({outcome.detail})" if outcome.detail else f" ({outcome.made or outcome.missing} files)"
                bar.write(line) if not bar.disable else self.stdout.write(line)

        report = regenerate_renditions(dry_run=dry_run, workers=workers, limit=limit, progress=progress)
        bar.close()
        done, failed, not_tried = report.of(DONE), report.of(FAILED), report.of(NOT_TRIED)
        if dry_run:
            self.stdout.write(f"DRY RUN — nothing changed. {len(done)} photos would get "
                              f"{sum(outcome.missing for outcome in done)} files, "
                              f"{report.complete_already} have them all")
        else:
            self.stdout.write(f"{len(done)} photos completed ({report.files} files, {report.bytes / 1e6:.1f} MB), "
                              f"{report.complete_already} had them all already, {len(failed)} failed"
                              f"{f', {len(not_tried)} not tried' if not_tried else ''}")
        if not report.ok:
            raise CommandError(f"{len(failed) + len(not_tried)} photo(s) not completed; fix the cause and run "
                               "again (it resumes)")
