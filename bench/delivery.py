"""Issue 10's delivery: the image bytes readers' browsers download, and Lighthouse, for the same photos
in two states side by side in one run:

- **today (JPEG only)**: what the site served before issue 10 -- each photo's JPEG at 480, 1024 and its
  own width (``Photo.files = {"jpg": [480, 1024, width]}``), a plain ``<img srcset>``, no ``<source>``;
- **now**: every file the pipeline makes (the ladder in JPEG, AVIF and WebP), a ``<picture>``.

Switching is only the ``Photo.files`` rows: every file stays on the store in both states, and the pages
name only what the rows list.

    bench/run delivery     (or .venv/bin/python -m bench.delivery; BENCH_DELIVERY_GALLERY=20,
                            BENCH_LIGHTHOUSE_RUNS=3 per page and config (median), BENCH_LIGHTHOUSE=0 skips it)

Set-up (not measured): bench/servers.py's Site -- collectstatic, migrate, the embedded default (an FTPS
server and the HTTP server standing for Apache, on loopback) and gunicorn as the Procfile starts it,
DEBUG off. Per data set of photos (bench/delivery_photos.py: the synthetic 12 MP phone photos, and
real photographs when bench.encoders has fetched them), twelve articles (the list page holds 12): one
with the 20-photo gallery, eleven with one photo each; only one set's articles are published while it
is measured. Every photo goes through the real pipeline in this process, against the site's database
and store: ``process_upload`` + ``attach_photo`` (the original and the JPEGs made at upload), then
``complete_photo`` (the rest of the ladder, AVIF, WebP). Then bench/delivery_browser.py (Chromium) and
bench/delivery_lighthouse.py (on one data set: the real photos if any) measure;
bench/delivery_report.py writes the section of RESULTS.md.
"""

import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench.common import PROJECT, WORK, median, say
from bench.servers import Site

GALLERY = int(os.environ.get("BENCH_DELIVERY_GALLERY", "20"))
LIST_ARTICLES = 12  # ArticleListView.paginate_by: one full list page
LIGHTHOUSE = os.environ.get("BENCH_LIGHTHOUSE", "1") != "0"
LIGHTHOUSE_RUNS = int(os.environ.get("BENCH_LIGHTHOUSE_RUNS", "3"))  # scores vary on a shared machine
STATES = ("today", "now")
GALLERY_TITLE = "Tournoi des jeunes : toutes les photos"


def use_site_database(site):
    """Django in this process on the site's own database and store (the embedded default's state)."""
    os.environ.update(site.env)
    os.environ["PHOTO_RENDITIONS_LATER"] = "off"  # complete_photo() is called here, in the open
    if str(PROJECT) not in sys.path:
        sys.path.insert(0, str(PROJECT))
    import django

    django.setup()


def add_photos(article, photo_bytes, first_index, count, timings):
    from articles.models import Photo
    from articles.photo_processing import process_upload
    from articles.photo_renditions import complete_photo
    from articles.photos import UPLOADED, attach_photo

    for index in range(first_index, first_index + count):
        data = photo_bytes(index)
        started = time.process_time()
        processed = process_upload(data, f"IMG_{index:04d}.jpg")
        timings["upload"].append(time.process_time() - started)
        outcome = attach_photo(article, processed)
        if outcome.state != UPLOADED:
            raise RuntimeError(f"photo {index} was not uploaded ({outcome})")
        photo = Photo.objects.get(content_hash=processed.content_hash)
        started = time.process_time()
        complete_photo(photo)
        timings["complete"].append(time.process_time() - started)
    Photo.objects.filter(placements__article=article).update(
        alt_text="Les joueurs pendant le tournoi", caption="Le tournoi des jeunes", credit="Photo : un parent")


def make_articles(photo_bytes, timings):
    """One data set's gallery article and eleven others, made with ``photo_bytes(index)``; (the
    gallery article, [the twelve articles' pks]). CPU seconds per photo go to ``timings``."""
    from django.utils import timezone

    from articles.models import Article

    now = timezone.now()
    body = "Compte rendu du tournoi. " * 60
    gallery = Article.objects.create(title=GALLERY_TITLE, summary="Les photos des parents.", body=body,
                                     published=True, published_at=now - timedelta(minutes=30))
    add_photos(gallery, photo_bytes, 0, GALLERY, timings)
    articles = [gallery.pk]
    for number in range(LIST_ARTICLES - 1):
        article = Article.objects.create(title=f"Match {number + 1} : victoire des U{13 + number % 6} à domicile",
                                         summary="Compte rendu du match de samedi.", body=body, published=True,
                                         published_at=now - timedelta(hours=number + 1))
        add_photos(article, photo_bytes, GALLERY + number, 1, timings)
        articles.append(article.pk)
    return gallery, articles


def publish_only(articles):
    """The list page shows these articles (one data set's), the others are unpublished."""
    from articles.models import Article

    Article.objects.exclude(pk__in=articles).update(published=False)
    Article.objects.filter(pk__in=articles).update(published=True)


def everything_made():
    """{photo pk: Photo.files} once complete_photo() ran: the "now" state."""
    from articles.models import Photo

    return {photo.pk: photo.files for photo in Photo.objects.all()}


def set_state(state, files_now):
    from articles.models import Photo

    for photo in Photo.objects.all():
        files = files_now[photo.pk] if state == "now" else {"jpg": sorted({480, 1024, photo.width})}
        Photo.objects.filter(pk=photo.pk).update(files=files)


def file_widths(files_now):
    """{url: (extension, width)} of every file on the store (to name what each <img> took)."""
    from articles.models import Photo

    widths = {}
    for photo in Photo.objects.filter(pk__in=files_now):
        for extension, each in files_now[photo.pk].items():
            for width in each:
                widths[photo.file_url(extension, width)] = (extension, width)
    return widths


def store_files(files_now, root):
    """{url: (photo pk, extension, width, bytes)} of every file the "now" rows list (a missing one: 0 bytes)."""
    from articles.models import Photo

    found = {}
    for photo in Photo.objects.filter(pk__in=files_now):
        for extension, widths in files_now[photo.pk].items():
            for width in widths:
                path = root / photo.file_name(extension, width)
                found[photo.file_url(extension, width)] = (photo.pk, extension, width,
                                                           path.stat().st_size if path.is_file() else 0)
    return found


def missing_files(files_now, root):
    """Names the "now" rows list that are not on the store (there should be none)."""
    from articles.models import Photo

    return [name for photo in Photo.objects.filter(pk__in=files_now)
            for extension, widths in files_now[photo.pk].items() for width in widths
            if not (root / (name := photo.file_name(extension, width))).is_file()]


def browse(sets, list_url, files_now, widths, photo_host):
    """{(data set, state, page, device label): (Load, ladder fit)} for every combination, and
    {("reserved", state, page, device label): [box heights before the photos arrive]} for the first set."""
    from playwright.sync_api import sync_playwright

    from bench.delivery_browser import DEVICES, ladder_fit, load, open_browser, reserved_heights

    results = {}
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # ORM calls between Playwright's calls
    with sync_playwright() as playwright:
        browser = open_browser(playwright)
        try:
            for label, (gallery_url, articles) in sets.items():
                publish_only(articles)
                for state in STATES:
                    set_state(state, files_now)
                    for page, url in {"list": list_url, "gallery": gallery_url}.items():
                        for device in DEVICES:
                            loaded = load(browser, url, device)
                            results[label, state, page, device.label] = (loaded,
                                                                         ladder_fit(loaded.images, device, widths))
                            say(f"  {label:9} {state:5} {page:7} {device.label:22} {loaded.image_requests:3} "
                                f"images {loaded.image_bytes / 1e6:6.2f} MB  {loaded.by_type}")
            label = next(iter(sets))  # the layout is the same for every data set
            publish_only(sets[label][1])
            for state in STATES:
                set_state(state, files_now)
                for page, url in {"list": list_url, "gallery": sets[label][0]}.items():
                    for device in DEVICES:
                        results["reserved", state, page, device.label] = reserved_heights(browser, url, device,
                                                                                         photo_host)
        finally:
            browser.close()
    return results


def lighthouse(urls, files_now):
    """({(state, page, config): summary}, note): Lighthouse in both states, or ({}, why not)."""
    from bench import delivery_lighthouse as lh

    if not LIGHTHOUSE:
        return {}, "skipped (BENCH_LIGHTHOUSE=0)"
    problem = lh.install()
    if problem:
        say(f"  Lighthouse skipped: {problem}")
        return {}, f"skipped: {problem}"
    output = WORK / "delivery-lighthouse"  # kept until the next run: each audit's details are in them
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    results = {}
    for state in STATES:
        set_state(state, files_now)
        for page, url in urls.items():
            for config, args in lh.CONFIGS:
                name = f"{state}-{page}-{'desktop' if args else 'mobile'}"
                try:
                    runs = [lh.summary(lh.run(url, args, output / f"{name}-{n}.json")) for n in range(LIGHTHOUSE_RUNS)]
                except RuntimeError as error:
                    results[state, page, config] = {"error": str(error)}
                    continue
                chosen = sorted(runs, key=lambda each: each["score"])[len(runs) // 2]  # the median run
                chosen["scores"] = [each["score"] for each in runs]
                results[state, page, config] = chosen
                say(f"  lighthouse {state:5} {page:7} {config:28} score {chosen['scores']} CLS {chosen['cls']:.3f} "
                    f"LCP {chosen['lcp_ms']:.0f} ms  {[chosen[a] for a in lh.IMAGE_AUDITS]}")
    return results, f"Lighthouse {lh.installed_version()}"


def main():
    from bench.delivery_photos import data_sets
    from bench.delivery_report import write_report

    started = time.perf_counter()
    site = Site()
    with site, site.gunicorn(PHOTO_RENDITIONS_LATER="off"):
        use_site_database(site)
        sets, timings = {}, {"upload": [], "complete": []}
        for label, photo_bytes in data_sets().items():
            say(f"{label}: {LIST_ARTICLES} articles, {GALLERY + LIST_ARTICLES - 1} photos through the pipeline...")
            gallery, articles = make_articles(photo_bytes, timings)
            sets[label] = (f"{site.base}{gallery.get_absolute_url()}", articles)
        say(f"  CPU per photo: process_upload median {median(timings['upload']):.2f} s, "
            f"complete_photo median {median(timings['complete']):.2f} s")
        files_now = everything_made()
        root = Path(site.env["EMBEDDED_HOSTGATOR_DIR"]) / "ftp-root" / "public_html" / "static" / "article_images"
        absent = missing_files(files_now, root)
        on_store = store_files(files_now, root)
        say("browsing (Chromium)...")
        from django.conf import settings

        photo_host = settings.HOSTGATOR_FTP["PUBLIC_URL"].rstrip("/")
        loads = browse(sets, f"{site.base}/", files_now, file_widths(files_now), photo_host)
        reserved = {key[1:]: loads.pop(key) for key in [key for key in loads if key[0] == "reserved"]}
        # Lighthouse on one data set: the real photos when there are some (what readers' pages carry).
        audited = "real" if "real" in sets else "synthetic"
        publish_only(sets[audited][1])
        say(f"Lighthouse ({audited} photos)...")
        audits, lighthouse_note = lighthouse({"list": f"{site.base}/", "gallery": sets[audited][0]}, files_now)
        set_state("now", files_now)
    write_report(loads, reserved, list(sets), audited, audits, lighthouse_note, timings, files_now, absent, on_store,
                 time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
