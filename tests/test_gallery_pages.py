"""A reader in a real browser (Debian's chromium driven by Playwright) on an article with a gallery
whose photos went through the photo pipeline to the FTPS stand-in for HostGator: every photo loads
from the store's public URL, the lightbox opens, moves and closes by mouse, keyboard and touch, and
the page keeps to the Content-Security-Policy. Screenshots go to /tmp/pages-shots/ for a person to
look at."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from articles.models import Article, Photo
from articles.photo_processing import process_upload
from articles.photo_renditions import complete_photo
from articles.photos import UPLOADED, attach_photo
from tests.test_browser import CSP_LISTENER, csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path("/tmp/pages-shots")
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}


def numbered_jpeg(number, size, color):
    """A JPEG with its number drawn large: the screenshots show which photo is where."""
    image = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(image)
    draw.rectangle([size[0] // 10, size[1] // 10, size[0] * 9 // 10, size[1] * 9 // 10], outline="white", width=12)
    draw.text((size[0] // 2, size[1] // 2), str(number), fill="white", anchor="mm",
              font=ImageFont.load_default(size=min(size) // 2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# In the editor's order; the third is the editor's cover, so the page shows it first.
GALLERY = [
    {"size": (1600, 1200), "color": (30, 90, 160), "caption": "L'entrée des joueuses sur le terrain",
     "credit": "Photo : Leïla B.", "alt_text": "Les joueuses entrent sur le terrain"},
    {"size": (1000, 1500), "color": (200, 110, 20), "credit": "Photo : Sami K.", "decorative": True},
    {"size": (2000, 1250), "color": (20, 120, 50), "caption": "La capitaine soulève la coupe",
     "alt_text": "La capitaine soulève la coupe devant le public", "focal_x": 0.3, "focal_y": 0.4},
    {"size": (1200, 800), "color": (110, 40, 140), "alt_text": "Le banc des remplaçantes"},
]


@pytest.fixture
def final(hostgator):
    article = Article.objects.create(title="Finale de la coupe régionale", summary="Les U15 remportent la coupe.",
                                     body="Un match serré, gagné 2-1 dans les dernières minutes.\n\n" * 6,
                                     published=True, published_at=timezone.now() - timedelta(hours=1))
    photos = []
    for number, spec in enumerate(GALLERY, start=1):
        details = {key: value for key, value in spec.items() if key not in ("size", "color")}
        outcome = attach_photo(article, process_upload(numbered_jpeg(number, spec["size"], spec["color"]), "x.jpg"))
        assert outcome.state == UPLOADED
        photo = article.placements.order_by("position").last().photo
        Photo.objects.filter(pk=photo.pk).update(**details)
        photos.append(photo)
    article.cover = photos[2]
    article.save()
    return article, photos


def watch(page):
    """CSP violations (kept across navigations) and script errors, from the first page on."""
    problems = []
    page.add_init_script(CSP_LISTENER)
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return problems


def every_photo_loads(page, public_url):
    """Scroll each photo into view (the lazy ones load only then); each must come from the store."""
    images = page.locator("main img.photo")
    for index in range(images.count()):
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        image.evaluate("img => img.decode()")  # loaded and decoded (fails if it cannot be)
        assert image.evaluate("img => img.naturalWidth") > 0
        assert image.evaluate("img => img.currentSrc").startswith(public_url)
    page.evaluate("() => window.scrollTo(0, 0)")
    return images.count()


def lightbox_state(page):
    return page.evaluate("""() => {
        const dialog = document.querySelector('dialog.lightbox');
        const image = dialog.querySelector('.lightbox-image');
        return {open: dialog.open, src: image && image.getAttribute('src'), alt: image && image.alt,
                count: dialog.querySelector('.lightbox-count').textContent,
                caption: dialog.querySelector('.lightbox-caption').textContent};
    }""")


def lightbox_image_loaded(page):
    """Loaded and decoded, so that a screenshot shows it (fails if it cannot be loaded)."""
    page.evaluate("() => document.querySelector('dialog.lightbox .lightbox-image').decode()")


def test_reader_sees_the_gallery_and_browses_it_in_the_lightbox(browser_page, live_server, hostgator, final):
    article, photos = final
    page = browser_page
    problems = watch(page)
    SHOTS.mkdir(exist_ok=True)
    cover, entry, portrait, bench = photos[2], photos[0], photos[1], photos[3]
    in_page_order = [cover, entry, portrait, bench]

    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}{article.get_absolute_url()}", wait_until="load")
    assert every_photo_loads(page, hostgator.public_url) == 4
    links = page.locator("main a.photo-link")
    assert [links.nth(i).get_attribute("href") for i in range(4)] == [photo.url for photo in in_page_order]
    # The cover keeps its whole width; the gallery's photos are 3:2 crops, side by side on a desktop.
    boxes = [page.locator("main img.photo").nth(i).bounding_box() for i in range(4)]
    assert boxes[0]["width"] > 900 and abs(boxes[1]["width"] / boxes[1]["height"] - 1.5) < 0.02
    assert boxes[1]["y"] == boxes[2]["y"] and boxes[2]["x"] > boxes[1]["x"]
    # As wide as the `sizes` of the page say: 992 px for the cover, 320 px in the gallery's three columns.
    assert (boxes[0]["width"], boxes[1]["width"]) == (992, 320)
    page.screenshot(path=str(SHOTS / "detail-1280.png"), full_page=True)

    # A click on the second photo opens it large, with its caption and its place in the gallery.
    links.nth(1).click()
    page.wait_for_selector("dialog.lightbox[open]")
    lightbox_image_loaded(page)
    assert lightbox_state(page) == {"open": True, "src": entry.url, "alt": "Les joueuses entrent sur le terrain",
                                    "count": "Photo 2 sur 4",
                                    "caption": "L'entrée des joueuses sur le terrain — Photo : Leïla B."}
    shown = page.locator("dialog.lightbox .lightbox-image")
    # Chosen for the screen's width among the photo's files: here its full size (no JPEG copy is wider than 1024).
    assert shown.evaluate("img => img.currentSrc") == entry.url and shown.bounding_box()["height"] > 500
    assert page.evaluate("() => document.activeElement.className") == "lightbox-close"
    page.screenshot(path=str(SHOTS / "dialog-1280.png"))

    page.keyboard.press("ArrowRight")
    assert lightbox_state(page)["src"] == portrait.url and lightbox_state(page)["count"] == "Photo 3 sur 4"
    assert lightbox_state(page)["caption"] == "Photo : Sami K." and lightbox_state(page)["alt"] == ""
    page.keyboard.press("ArrowLeft")
    assert lightbox_state(page)["src"] == entry.url
    page.click("dialog.lightbox .lightbox-prev")
    assert lightbox_state(page)["count"] == "Photo 1 sur 4"
    assert page.locator("dialog.lightbox .lightbox-prev").is_disabled()
    page.keyboard.press("ArrowLeft")  # nothing before the first
    assert lightbox_state(page)["src"] == cover.url
    # A swipe with the mouse (pointer events, as a finger's): right to left is the next photo.
    page.mouse.move(900, 400)
    page.mouse.down()
    page.mouse.move(500, 410, steps=8)
    page.mouse.up()
    assert lightbox_state(page)["open"] is True and lightbox_state(page)["src"] == entry.url

    # Échap closes it; the focus is back on the photo that was clicked.
    page.keyboard.press("Escape")
    assert lightbox_state(page)["open"] is False
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == entry.url
    assert page.evaluate("() => document.documentElement.className") == ""

    assert csp_violations(page) == [] and problems == []

    # On a phone (a browser of its own: nothing in its cache from the desktop's visit), the gallery
    # in one column, and a finger swipes from photo to photo.
    phone = page.context.browser.new_page(viewport=PHONE, has_touch=True)
    problems = watch(phone)
    phone.goto(f"{live_server.url}{article.get_absolute_url()}", wait_until="load")
    assert every_photo_loads(phone, hostgator.public_url) == 4
    boxes = [phone.locator("main img.photo").nth(i).bounding_box() for i in range(4)]
    assert all(box["width"] == PHONE["width"] - 32 for box in boxes) and boxes[2]["y"] > boxes[1]["y"]  # `sizes`
    phone.screenshot(path=str(SHOTS / "detail-390.png"), full_page=True)
    phone_links = phone.locator("main a.photo-link")
    phone_links.nth(3).tap()
    phone.wait_for_selector("dialog.lightbox[open]")
    assert lightbox_state(phone)["count"] == "Photo 4 sur 4" and lightbox_state(phone)["src"] == bench.url
    assert phone.locator("dialog.lightbox .lightbox-next").is_disabled()
    phone.locator("dialog.lightbox .lightbox-prev").tap()
    phone.wait_for_function("() => document.querySelector('.lightbox-count').textContent === 'Photo 3 sur 4'")
    phone.locator("dialog.lightbox .lightbox-close").tap()
    phone.wait_for_function("() => !document.querySelector('dialog.lightbox').open")  # a tap's click comes after
    assert phone.evaluate("() => document.activeElement.getAttribute('href')") == bench.url
    # A finger from right to left: the next photo. (Last: a tap just after a swipe may only stop
    # the browser's fling, as on a real phone.)
    phone_links.nth(1).tap()
    phone.wait_for_selector("dialog.lightbox[open]")
    assert lightbox_state(phone)["src"] == entry.url
    touch = phone.context.new_cdp_session(phone)
    for kind, x in (("touchStart", 300), ("touchMove", 240), ("touchMove", 160), ("touchEnd", 100)):
        touch.send("Input.dispatchTouchEvent",
                   {"type": kind, "touchPoints": [] if kind == "touchEnd" else [{"x": x, "y": 420}]})
    assert lightbox_state(phone)["src"] == portrait.url and lightbox_state(phone)["count"] == "Photo 3 sur 4"
    lightbox_image_loaded(phone)
    phone.screenshot(path=str(SHOTS / "dialog-390.png"))
    assert csp_violations(phone) == [] and problems == []


def test_list_cards_crop_around_the_focal_point(browser_page, live_server, hostgator, final):
    article, photos = final
    page = browser_page
    problems = watch(page)
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/", wait_until="load")
    card = page.locator(".article-card img.photo")
    assert every_photo_loads(page, hostgator.public_url) == 1
    cover = photos[2]
    assert card.get_attribute("class") == f"photo fx-30 fy-40 ph-{cover.pk}"
    # Its placeholder, while it loads: its average colour (the page's one nonce'd <style>).
    red, green, blue = (int(cover.colour[i:i + 2], 16) for i in (1, 3, 5))
    assert card.evaluate("img => getComputedStyle(img).backgroundColor") == f"rgb({red}, {green}, {blue})"
    # The focal point from site.css's classes: no style attribute, no other file.
    assert card.evaluate("img => getComputedStyle(img).objectPosition") == "30% 40%"
    assert card.evaluate("img => getComputedStyle(img).objectFit") == "cover"
    assert card.evaluate("img => img.currentSrc").endswith("-480w.jpg")
    # The card is as wide as its `sizes` says (the browser chooses its file by it): 320 px in three
    # columns, the screen less the page's margins on a phone.
    assert card.bounding_box()["width"] == 320
    page.screenshot(path=str(SHOTS / "list-1280.png"))
    assert csp_violations(page) == [] and problems == []


def test_readers_get_avif_and_browsers_without_it_get_webp_or_the_jpeg(browser_page, live_server, hostgator, final):
    """Once a photo's other files are on the store, Chromium takes its AVIF; with the AVIF sources
    taken out of the page it takes the WebP, and with no source at all the JPEG: each from the
    store, at the width its slot needs."""
    article, photos = final
    for photo in photos:
        complete_photo(photo)
    page = browser_page
    problems = watch(page)

    def shown(without=None):
        page.goto(f"{live_server.url}{article.get_absolute_url()}", wait_until="load")
        if without:
            # The page as a browser that does not read that format has it: those sources left out
            # (each <picture> put back anew, so that the browser chooses again).
            page.evaluate("""selector => document.querySelectorAll('main picture').forEach(picture => {
                const copy = picture.cloneNode(true);
                copy.querySelectorAll(selector).forEach(source => source.remove());
                picture.replaceWith(copy);
            })""", without)
        assert every_photo_loads(page, hostgator.public_url) == 4
        return [source.rsplit("/", 1)[1] for source in page.locator("main img.photo").evaluate_all(
            "images => images.map(img => img.currentSrc)")]

    page.set_viewport_size(PHONE)  # 390 px at DPR 1 here: the cover's slot is the screen's width
    names = shown()
    assert all(name.endswith(".avif") for name in names), names
    assert names[0].endswith("-400w.avif"), names  # 390 px wide: the 400 px file, not the 2000 px one
    # The lightbox takes the photo's AVIF too, at the screen's width.
    page.locator("main a.photo-link").nth(1).click()
    page.wait_for_selector("dialog.lightbox[open]")
    lightbox_image_loaded(page)
    assert page.locator("dialog.lightbox .lightbox-image").evaluate("img => img.currentSrc").endswith("-400w.avif")
    names = shown(without='source[type="image/avif"]')
    assert all(name.endswith(".webp") for name in names) and names[0].endswith("-400w.webp"), names
    names = shown(without="source")
    assert all(name.endswith(".jpg") for name in names), names
    assert csp_violations(page) == [] and problems == []


def test_every_photo_has_its_box_before_its_file_arrives(browser_page, live_server, hostgator, final):
    """On a slow phone connection the page must not jump when photos arrive: with every photo request
    left unanswered, each photo's box already has the size it has once loaded."""
    article, _photos = final
    page = browser_page
    held = []
    page.route(f"{hostgator.public_url}**", lambda route: held.append(route))  # unanswered while measured
    url = f"{live_server.url}{article.get_absolute_url()}"

    def boxes():
        return page.locator("main img.photo").evaluate_all(
            "images => images.map(img => [Math.round(img.getBoundingClientRect().width),"
            " Math.round(img.getBoundingClientRect().height)])")

    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto(url, wait_until="domcontentloaded")
        waiting = boxes()
        assert all(height > 0 for _, height in waiting), waiting
        page.unroute(f"{hostgator.public_url}**")
        held.clear()  # the browser drops them as it leaves the page
        page.goto(url, wait_until="load")
        assert every_photo_loads(page, hostgator.public_url) == 4
        assert boxes() == waiting, viewport
        page.route(f"{hostgator.public_url}**", lambda route: held.append(route))
    # On the list too: the card's crop is fixed.
    page.goto(f"{live_server.url}/", wait_until="domcontentloaded")
    assert page.locator(".article-card img.photo").bounding_box()["height"] > 0
