"""What a reader's browser downloads: Debian's chromium driven by Playwright (as tests/browser.py
launches it), one fresh context per page load (empty cache, no cookies), scrolled to the bottom so
that every lazy image loads.

Bytes are the sum of the image responses' body sizes as Chromium received them (Playwright's
``request.sizes()["responseBodySize"]``, from the DevTools protocol: what came over the wire without
the headers; photos are never compressed by HTTP, so that is the file's size). ``data:`` URLs (the
placeholders, inside the page's HTML) are not requests and count in the page, not here.
"""

import shutil
from dataclasses import dataclass

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]


@dataclass(frozen=True)
class Device:
    label: str
    width: int
    height: int
    dpr: float
    mobile: bool

    def context_options(self):
        return {"viewport": {"width": self.width, "height": self.height}, "device_scale_factor": self.dpr,
                "is_mobile": self.mobile, "has_touch": self.mobile, "locale": "fr-FR"}


DEVICES = (Device("phone 390 px, DPR 3", 390, 844, 3.0, True), Device("desktop 1280 px, DPR 1", 1280, 900, 1.0, False))

# Down the page by half a screen at a time, pausing so that each lazy image near the view starts,
# then to the very bottom.
SCROLL_TO_BOTTOM = """async () => {
  const pause = () => new Promise(resolve => setTimeout(resolve, 150));
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) { scrollTo(0, y); await pause(); }
  scrollTo(0, document.documentElement.scrollHeight); await pause();
}"""
ALL_IMAGES_DONE = "Array.from(document.images).every(image => image.complete)"
# Each photo of the page: the file it took, the width it is drawn at (CSS px), where it is, how it loads.
IMAGES = """() => Array.from(document.querySelectorAll('main img.photo')).map(image => ({
  src: image.currentSrc, shown: image.getBoundingClientRect().width, tall: image.getBoundingClientRect().height,
  natural: image.naturalWidth,
  role: image.closest('.gallery') ? 'gallery' : image.closest('.cover') ? 'cover' : 'card',
  loading: image.loading, sizes: image.sizes}))"""
# Layout shifts while the page loads and scrolls (the CLS a reader meets, without Lighthouse's windows).
WATCH_SHIFTS = """() => { window.__shifts = []; new PerformanceObserver(list => { for (const entry of list.getEntries())
  if (!entry.hadRecentInput) window.__shifts.push(entry.value); }).observe({type: 'layout-shift', buffered: true}); }"""


@dataclass(frozen=True)
class Load:
    image_bytes: int
    image_requests: int
    by_type: dict  # {"image/avif": bytes, ...}
    images: list  # IMAGES' records
    layout_shift: float  # sum of layout-shift values seen (no input) during the load and the scroll


def open_browser(playwright):
    if not CHROMIUM:
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)


def load(browser, url, device):
    """Load ``url`` in a fresh context as ``device``, scroll to the bottom, wait for every image."""
    context = browser.new_context(**device.context_options())
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        finished = []
        page.on("requestfinished", lambda request: finished.append(request))
        page.goto(url, wait_until="load")
        page.evaluate(WATCH_SHIFTS)
        page.evaluate(SCROLL_TO_BOTTOM)
        page.wait_for_function(ALL_IMAGES_DONE)
        page.wait_for_load_state("networkidle")
        images = page.evaluate(IMAGES)
        shift = page.evaluate("window.__shifts.reduce((a, b) => a + b, 0)")
        total, count, by_type = 0, 0, {}
        for request in finished:
            if request.resource_type != "image" or not request.url.startswith("http"):
                continue
            size = request.sizes()["responseBodySize"]
            response = request.response()
            kind = (response.headers.get("content-type", "?") if response else "?").split(";")[0]
            total, count = total + size, count + 1
            by_type[kind] = by_type.get(kind, 0) + size
        return Load(total, count, by_type, images, shift)
    finally:
        context.close()


def ladder_fit(images, device, widths_of):
    """[(role, file width, needed px, file ÷ needed)] for the photos of one load; ``widths_of``: {url:
    (extension, width)} of every file on the store. Needed = drawn CSS width × DPR (the crops here
    fill the slot's width: landscape photos in wider-than-tall or 3:2 boxes)."""
    fits = []
    for image in images:
        extension, width = widths_of.get(image["src"], ("?", image["natural"]))
        needed = image["shown"] * device.dpr
        fits.append((image["role"], extension, width, needed, width / needed if needed else float("nan")))
    return fits


def reserved_heights(browser, url, device, photo_host):
    """[height in CSS px] of each photo's box while no photo file has arrived (every request to
    ``photo_host`` left unanswered): what the page reserves. A box that is not already as tall as
    once its file is there moves what follows -- a layout shift whenever the file comes after the
    first paint, as on mobile data (on loopback it often comes before, and none is seen)."""
    context = browser.new_context(**device.context_options())
    held = []  # the photo requests, unanswered until the boxes are measured
    try:
        page = context.new_page()
        page.route(f"{photo_host}/**", lambda route: held.append(route))
        page.goto(url, wait_until="domcontentloaded")
        # The stylesheet first (the load event never comes while photos are pending): without it the
        # boxes are sized by the width/height attributes alone.
        page.wait_for_function("Array.from(document.querySelectorAll('link[rel=stylesheet]')).every(l => l.sheet)")
        page.evaluate("() => new Promise(resolve => requestAnimationFrame(() => resolve()))")
        heights = page.evaluate("() => Array.from(document.querySelectorAll('main img.photo'))"
                                ".map(image => image.getBoundingClientRect().height)")
        for route in held:
            route.abort()  # answered at last (Playwright would otherwise log each as pending at close)
        return heights
    finally:
        context.close()
