"""The public list page with 20 photo articles: FTP commands while rendering (the server's record),
SQL queries, and the image bytes a browser downloads vs the originals.

    .venv/bin/python -m bench.photo_pages          (BENCH_ARTICLES=20)

Set-up (not measured): 20 phone-like 12-megapixel JPEGs (~4 MB each, cached in bench/.work/) go
through storage.images.process_photo and articles.photos.attach_photo to a TLS server with 30 ms per
reply, exactly as an editor's upload would: one Photo per article, its gallery's only ArticlePhoto and
so its cover. Then the pages are rendered by Django's test Client and every image URL in them is
fetched over the public (HTTP) URL.
"""

import os
import sys
import time
import urllib.request
from datetime import timedelta
from html.parser import HTMLParser

from bench.common import (
    DELAY,
    certificate,
    median,
    plain_static_storages,
    say,
    secs,
    stopwatch,
    table,
    temporary_dir,
    write_section,
)
from bench.photos import phone_photo
from bench.servers import ServerProcess

ARTICLES = int(os.environ.get("BENCH_ARTICLES", "20"))
# What a browser picks from srcset: the smallest candidate at least (slot width x device pixel ratio).
DEVICES = (("desktop, 1x", 1280, 1.0), ("laptop, 2x", 1440, 2.0), ("phone 390 px, 3x", 390, 3.0),
           ("phone 360 px, 2x", 360, 2.0))


class Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def images_in(html):
    parser = Images()
    parser.feed(html)
    return parser.images


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def slot_width(sizes, viewport):
    """The CSS width of the image for a `sizes` like "(max-width: 600px) calc(100vw - 2rem), 320px" at
    ``viewport`` px (the forms the templates use: px, vw, and calc(<vw> - <rem>) with 16 px a rem)."""
    for part in sizes.split(","):
        part = part.strip()
        if part.startswith("(max-width:"):
            limit, _, length = part.partition(")")
            if viewport <= float(limit.split(":")[1].strip().removesuffix("px")):
                return length_px(length.strip(), viewport)
            continue
        return length_px(part, viewport)
    return viewport


def length_px(length, viewport):
    if length.startswith("calc("):
        width, _, minus = length.removeprefix("calc(").removesuffix(")").partition(" - ")
        return length_px(width, viewport) - float(minus.removesuffix("rem")) * 16
    if length.endswith("vw"):
        return viewport * float(length.removesuffix("vw")) / 100
    return float(length.removesuffix("px"))


def chosen(image, viewport, density):
    candidates = sorted((int(width.strip().removesuffix("w")), url) for url, width in
                        (item.strip().rsplit(" ", 1) for item in image.get("srcset", "").split(",") if item.strip()))
    if not candidates:
        return image["src"]
    needed = slot_width(image.get("sizes", "100vw"), viewport) * density
    return next((url for width, url in candidates if width >= needed), candidates[-1][1])


def create_articles(count):
    from django.conf import settings
    from django.utils import timezone

    from articles.models import Article, Photo
    from articles.photos import UPLOADED, attach_photo
    from storage.images import process_photo

    camera_bytes, process_times, upload_times = {}, [], []
    now = timezone.now()
    for index in range(count):
        data = phone_photo(index)
        article = Article.objects.create(
            title=f"Match {index + 1} : victoire des U{13 + index % 6} à domicile",
            summary="Compte rendu du match de samedi, avec les photos des parents.", body="Texte. " * 200,
            published=True, published_at=now - timedelta(hours=index + 1))
        with stopwatch() as processing:
            processed = process_photo(data, f"IMG_{index:04d}.jpg", max_bytes=settings.PHOTO_MAX_BYTES,
                                      max_pixels=settings.PHOTO_MAX_PIXELS, max_side=settings.PHOTO_MAX_SIDE,
                                      rendition_widths=settings.PHOTO_WIDTHS_AT_UPLOAD)
        with stopwatch() as uploading:
            outcome = attach_photo(article, processed)
        if outcome.state != UPLOADED:
            raise RuntimeError(f"photo {index} was not uploaded ({outcome}): see the log")
        # What the editor writes in the gallery: the photo (its only one, so its cover) described.
        Photo.objects.filter(placements__article=article).update(
            alt_text="L'équipe après le match", caption="Les U15 après la victoire", credit="Photo : un parent")
        process_times.append(processing())
        upload_times.append(uploading())
        camera_bytes[article.pk] = len(data)
    return camera_bytes, process_times, upload_times


def render(client, server, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    server.forget()
    with CaptureQueriesContext(connection) as queries, stopwatch() as elapsed:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")
    return response.content.decode(), len(server.commands()), len(queries), elapsed()


def main():
    from django.test import Client, override_settings

    from articles.models import Article

    started = time.perf_counter()
    server = ServerProcess(temporary_dir("pages"), certificate(), DELAY, "per_reply")
    overrides = override_settings(
        HOSTGATOR_FTP=server.settings, STORAGES=plain_static_storages())
    overrides.enable()
    try:
        say(f"making and uploading {ARTICLES} articles with 12 MP photos ({DELAY * 1000:.0f} ms per reply)...")
        camera_bytes, process_times, upload_times = create_articles(ARTICLES)
        say(f"  process_photo median {secs(median(process_times))}, attach_photo (upload) median "
            f"{secs(median(upload_times))}")
        articles = {article.pk: article for article in Article.objects.with_gallery()}
        by_url = {article.image_url: article for article in articles.values()}
        client = Client()
        pages, page_rows = [], []
        page_number = 1
        while True:
            path = "/" if page_number == 1 else f"/?page={page_number}"
            html, commands, queries, elapsed = render(client, server, path)
            listed = [image for image in images_in(html) if "photo" in image.get("class", "").split()]
            pages.append((path, html, commands, queries, elapsed, listed))
            if f'?page={page_number + 1}"' not in html:
                break
            page_number += 1
        # Detail pages too: each must also render with no FTP command.
        detail_commands, detail_queries = [], []
        for article in articles.values():
            _html, commands, queries, _elapsed = render(client, server, article.get_absolute_url())
            detail_commands.append(commands)
            detail_queries.append(queries)

        thumbnail_of = {article.thumbnail_url: article for article in articles.values()}
        src_bytes = original_bytes = camera = 0
        device_bytes = {label: 0 for label, _width, _density in DEVICES}
        images_listed = 0
        for path, _html, commands, queries, elapsed, listed in pages:
            page_src = page_original = page_camera = 0
            for image in listed:
                article = thumbnail_of.get(image["src"]) or by_url[image["src"]]
                page_src += len(fetch(image["src"]))
                page_original += len(fetch(article.image_url))
                page_camera += camera_bytes[article.pk]
                for label, width, density in DEVICES:
                    device_bytes[label] += len(fetch(chosen(image, width, density)))
            images_listed += len(listed)
            src_bytes += page_src
            original_bytes += page_original
            camera += page_camera
            page_rows.append((f"`{path}`", len(listed), commands, queries, f"{elapsed * 1000:.0f} ms",
                              f"{page_src / 1e3:.0f} KB", f"{page_original / 1e6:.2f} MB",
                              f"{100 * page_src / page_original:.1f} %", f"{page_camera / 1e6:.1f} MB",
                              f"{100 * page_src / page_camera:.2f} %"))
    finally:
        overrides.disable()
        server.stop()

    list_commands = max(page[2] for page in pages)
    list_queries = max(page[3] for page in pages)
    share = src_bytes / original_bytes
    sample = next(iter(articles.values()))
    sample_image = pages[0][5][0]
    device_rows = [(label, f"{width} px", f"{density:g}", f"{device_bytes[label] / 1e6:.2f} MB",
                    f"{100 * device_bytes[label] / original_bytes:.0f} %") for label, width, density in DEVICES]
    body = f"""
{ARTICLES} published articles, each with a synthetic phone photo (4032×3024 JPEG, gradients + multi-scale grain +
shapes + EXIF; {sum(camera_bytes.values()) / len(camera_bytes) / 1e6:.1f} MB on average) put through
`process_photo` + `attach_photo` (original ≤ 2048 px + 480w and 1024w renditions) to a TLS server at
{DELAY * 1000:.0f} ms per reply. `ArticleListView.paginate_by` is 12, so the 20 articles fill two list pages; both
are measured. "Originals" = the normalised originals the site stores (`image_url`, 2048 px); "camera files" =
what the editors uploaded. Image bytes fetched over the public HTTP URL.

{table(("page", "photos", "FTP commands while rendering", "SQL queries", "render time", "thumbnail `src` bytes",
        "originals' bytes", "src / originals", "camera files", "src / camera files"), page_rows)}

All {images_listed} list photos: thumbnails {src_bytes / 1e6:.2f} MB vs originals {original_bytes / 1e6:.2f} MB
(**{100 * share:.1f} %**) vs camera files {camera / 1e6:.1f} MB ({100 * src_bytes / camera:.2f} %).
Detail pages ({len(detail_commands)}): FTP commands while rendering max {max(detail_commands)}, SQL queries max
{max(detail_queries)}.

Set-up figures: `process_photo` of a 12 MP photo median {secs(median(process_times))}; `attach_photo` (3 files,
parallel, 30 ms per reply) median {secs(median(upload_times))}.

**What a browser would really fetch.** The list `<img>` has `srcset` (480w, 1024w, the original) and
`sizes="{sample_image.get("sizes", "")}"`; a browser picks the smallest candidate at least as wide as the slot ×
device pixel ratio (lazy loading aside: all {images_listed} counted, as if the reader scrolled to the end):

{table(("device", "viewport", "DPR", "image bytes, 20 photos", "of originals"), device_rows)}

A sample list `<img>` ({sample.title}): `src` = `…{sample.thumbnail_url[-28:]}`; the `srcset` names
{len(sample.cover_photo.renditions) + 1} candidates.
"""
    phones = [device_bytes[label] / original_bytes for label, _width, density in DEVICES if "phone" in label]
    if max(phones) > 0.15:
        body += (f"\nOn phones (the slot is 100vw below 600 px) the needed width exceeds 1024 px at 3x, so the "
                 f"browser takes the 2048 px original: up to {100 * max(phones):.0f} % of the originals' bytes. "
                 "A 1536w (or 1280w) rendition in `PHOTO_RENDITION_WIDTHS`, or a smaller list `sizes` slot, "
                 "would close that gap.\n")
    targets = [
        {"target": "0 FTP commands while rendering the list page", "measured": str(list_commands),
         "met": list_commands == 0},
        {"target": "≤ 4 SQL queries for the list page", "measured": str(list_queries), "met": list_queries <= 4},
        {"target": "list-page image bytes (thumbnails' src) ≤ 15 % of the originals'",
         "measured": f"{100 * share:.1f} % ({100 * src_bytes / camera:.2f} % of the camera files)",
         "met": share <= 0.15},
    ]
    write_section("photo_pages", "2. photo_pages — the list page of 20 photo articles", body, targets,
                  time.perf_counter() - started)
    for row in page_rows:
        say(" | ".join(str(cell) for cell in row))
    say(f"list pages: FTP commands {list_commands}, SQL queries {list_queries}, thumbnails {100 * share:.1f} % of "
        f"originals; wrote the photo_pages section of bench/RESULTS.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    from bench.common import setup_django

    setup_django()
    sys.exit(main())
