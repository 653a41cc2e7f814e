"""bench.delivery's section of RESULTS.md: bytes per page and device in both states, the ladder's fit,
Lighthouse's figures, and the targets of issue 10."""

from collections import Counter

from bench.common import median, say, table, write_section
from bench.delivery import GALLERY, LIST_ARTICLES, STATES
from bench.delivery_browser import DEVICES
from bench.delivery_lighthouse import IMAGE_AUDITS, MORE_AUDITS

STATE_LABELS = {"today": "today (JPEG only)", "now": "now (`<picture>`)"}
PAGES = {"list": f"list page ({LIST_ARTICLES} covers)", "gallery": f"gallery page ({GALLERY} photos)"}
FIT_LOW, FIT_HIGH = 0.8, 1.25  # "within ~25 %" of the drawn width × DPR


def megabytes(count):
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.0f} KB"


def exact_bytes(load, device, on_store):
    """What the page's photos would weigh if every ``sizes`` said the drawn width exactly: for each
    <img>, its photo in the format it took, at the narrowest width ≥ drawn width × DPR."""
    total = 0
    for image in load.images:
        photo, extension, _width, size = on_store.get(image["src"], (None, None, 0, 0))
        ladder = sorted((width, each) for pk, ext, width, each in on_store.values() if (pk, ext) == (photo, extension))
        wide_enough = [each for width, each in ladder if width >= image["shown"] * device.dpr]
        total += wide_enough[0] if wide_enough else (ladder[-1][1] if ladder else size)
    return total


def bytes_rows(loads, sets, on_store):
    rows, ratios = [], {}
    for label in sets:
        for page in PAGES:
            for device in DEVICES:
                today, now = (loads[label, state, page, device.label][0] for state in STATES)
                ratio = now.image_bytes / today.image_bytes
                ratios[label, page, device.label] = ratio
                kinds = ", ".join(f"{kind.removeprefix('image/')} {megabytes(size)}" for kind, size in
                                  sorted(now.by_type.items(), key=lambda item: -item[1]))
                exact = exact_bytes(now, device, on_store)
                rows.append((label, PAGES[page], device.label,
                             f"{megabytes(today.image_bytes)} ({today.image_requests})",
                             f"{megabytes(now.image_bytes)} ({now.image_requests})", f"**{100 * ratio:.0f} %**", kinds,
                             f"{megabytes(exact)} ({100 * exact / today.image_bytes:.0f} %)"))
    return rows, ratios


def fit_rows(loads, sets):
    """One row per (page, device, role, needed width) of the first data set: the file each state took
    and how it fits; and every data set's photo loads, for the target."""
    rows, fits = [], []
    for label in sets:
        for page in PAGES:
            for device in DEVICES:
                fits += [(page, device.label, new[0], new[4]) for new in loads[label, "now", page, device.label][1]]
    for page in PAGES:
        for device in DEVICES:
            today = loads[sets[0], "today", page, device.label][1]
            now = loads[sets[0], "now", page, device.label][1]
            groups = Counter()
            for old, new in zip(today, now, strict=True):
                groups[(new[0], round(new[3]), new[1], new[2], old[1], old[2])] += 1
            for (role, needed, extension, width, old_extension, old_width), count in groups.items():
                rows.append((PAGES[page], device.label, f"{role} ×{count}", f"{needed} px",
                             f"{extension} {width}w ({width / needed:.2f}×)",
                             f"{old_extension} {old_width}w ({old_width / needed:.2f}×)"))
    return rows, fits


def lighthouse_rows(audits):
    rows = []
    for (state, page, config), found in audits.items():
        if "error" in found:
            blanks = ("",) * (len(IMAGE_AUDITS) + len(MORE_AUDITS) + 3)
            rows.append((STATE_LABELS[state], PAGES[page], config, f"failed: {found['error']}", *blanks))
            continue
        rows.append((STATE_LABELS[state], PAGES[page], config, "/".join(map(str, found["scores"])),
                     f"{found['cls']:.3f}", f"{found['lcp_ms'] / 1000:.2f} s", megabytes(found["bytes"]),
                     *(found[audit] for audit in (*IMAGE_AUDITS, *MORE_AUDITS))))
    return rows


def lcp_lines(audits):
    return "\n".join(f"- {STATE_LABELS[state]}, {page}, {config}: LCP `{found['lcp_element']}`"
                     + (f"; layout shift: `{found['shifts']}`" if found["shifts"] else "")
                     for (state, page, config), found in audits.items() if "error" not in found)


def jumps(loads, reserved, label):
    """[(state, page, device, role, reserved px, final px)] of the photos whose box grows or shrinks
    when their file arrives (more than 1 px), in the first data set."""
    found = []
    for (state, page, device), heights in reserved.items():
        final = loads[label, state, page, device][0].images
        for before, image in zip(heights, final, strict=False):
            if abs(before - image["tall"]) > 1:
                found.append((state, page, device, image["role"], before, image["tall"]))
    return found


def jump_text(found):
    if not found:
        return "none: every photo's box is as tall before its file arrives as after"
    groups = Counter((state, page, device.split(",")[0], role, round(before), round(after))
                     for state, page, device, role, before, after in found)
    return "; ".join(f"{state} {page} {device}: {role} ×{count} {before} → {after} px"
                     for (state, page, device, role, before, after), count in groups.items())


def write_report(loads, reserved, sets, audited, audits, lighthouse_note, timings, files_now, absent, on_store,
                 seconds):
    byte_rows, ratios = bytes_rows(loads, sets, on_store)
    ladder_rows, fits = fit_rows(loads, sets)
    inside = [fit for fit in fits if FIT_LOW <= fit[3] <= FIT_HIGH]
    worst = max(fits, key=lambda fit: abs(fit[3] - 1))
    shift = max(load.layout_shift for load, _fit in loads.values())
    found_jumps = jumps(loads, reserved, sets[0])
    files_per_photo = median([sum(len(widths) for widths in files.values()) for files in files_now.values()])
    set_counts = f"{len(sets)} data set{'s' if len(sets) > 1 else ''}: " + ", ".join(sets)
    body = f"""
The same {len(files_now)} photos ({set_counts}) in two states, side by side in one run. **Today (JPEG only)** =
what the site served before issue 10: `Photo.files = {{"jpg": [480, 1024, width]}}`, a plain `<img srcset sizes>`.
**Now** = every file the pipeline made ({files_per_photo:.0f} a photo: the ladder in JPEG, AVIF and WebP), a
`<picture>`. Only the rows change (the placeholders stay in both); every file stays on the store (files the
"now" rows list but the store lacks: {len(absent)}). Set-up: `bench/servers.py`'s `Site` (collectstatic, DEBUG
off, gunicorn as the Procfile starts it, the embedded default's FTPS and HTTP servers on loopback); per data set
{LIST_ARTICLES} articles (only that set's published while it is measured), one with a {GALLERY}-photo gallery, the
others one photo each.
Photos: **synthetic** = `bench/photos.py`'s 12 MP phone-like JPEGs (grain at every scale, which AVIF and WebP
squeeze less than real photos' smooth areas); **real** = the eight Debian wallpapers bench.encoders fetches
into `bench/.work/encoders/photos/`, four 4:3 crops of each (sizes and places differ, every other mirrored),
JPEG q92, 2–15 MP (`bench/delivery_photos.py`). Each went through `process_upload` + `attach_photo`, then
`complete_photo` (CPU per photo in this process, medians: {median(timings["upload"]):.2f} s and
{median(timings["complete"]):.2f} s, on a loaded machine; bench.photo_save and bench.encoders measure that properly).

**Bytes**: Debian's Chromium (Playwright), a fresh context per load (empty cache), scrolled to the bottom so
every lazy photo loads, then the sum of the image responses' **body sizes** (`request.sizes()["responseBodySize"]`,
as received; photos are not HTTP-compressed, so it is their files' size; headers not counted; image requests
in brackets). Phone = 390×844 CSS px, DPR 3, `is_mobile`, `has_touch`; desktop = 1280×900, DPR 1.

{table(("photos", "page", "device", STATE_LABELS["today"], STATE_LABELS["now"], "now ÷ today", "now by format",
        "now, if `sizes` were exact (÷ today)"), byte_rows)}

The last column is computed, not loaded: each photo in the format it took, at the narrowest width of its ladder
at least its drawn width × DPR (what an exact `sizes` would make Chromium take), from the files' sizes on the
store.

**The ladder's fit**: the file each photo's `<img>` took (`currentSrc`) against the width it is drawn at × DPR
(`getBoundingClientRect().width`; the crops here fill their box's width). Target: within ~25 %
({FIT_LOW}–{FIT_HIGH}×): now {len(inside)} of {len(fits)} photo loads (all data sets); furthest
{worst[3]:.2f}× ({worst[2]}, {PAGES[worst[0]]}, {worst[1]}). Table: the {sets[0]} photos (the layout, hence the
widths taken, is the same for every set).

{table(("page", "device", "photo", "drawn × DPR", "now: file (÷ needed)", "today: file (÷ needed)"), ladder_rows)}

Layout shift Chromium saw while loading and scrolling (sum of `layout-shift` entries without input): at most
{shift:.3f} over all {len(loads)} loads. On loopback a photo often arrives before the first paint, so that says
little; what the page reserves does: each photo's box height with every photo request left unanswered, against
its height once loaded. Photos whose box changes when the file arrives (each one a layout shift on mobile data):
{jump_text(found_jumps)}.
"""
    if audits:
        body += f"""
**Lighthouse** ({lighthouse_note}, on the {audited} photos, `--only-categories=performance`, Debian's Chromium with
`--headless=new`): default = mobile (412 px, DPR 1.75, simulated slow 4G and 4× CPU slowdown: Lighthouse loads
unthrottled and models the throttled timings); desktop = `--preset=desktop`. Scores of each run (median run
shown); figures as Lighthouse reports them on this shared 2-core machine (its benchmark index:
{median([found.get("benchmark_index") or 0 for found in audits.values()]):.0f}).

{table(("state", "page", "config", "score", "CLS", "LCP", "bytes", *IMAGE_AUDITS, *MORE_AUDITS),
       lighthouse_rows(audits))}

LCP element and the largest layout shift (Lighthouse's `layout-shifts`) of each median run:
{lcp_lines(audits)}
"""
    else:
        body += f"\n**Lighthouse**: {lighthouse_note}.\n"
    now_audits = {key: found for key, found in audits.items() if key[0] == "now" and "error" not in found}
    targets = [
        {"target": "image bytes ≤ 50 % of today's (list + 20-photo gallery; 390 px DPR 3, 1280 px DPR 1)",
         "measured": ", ".join(f"{label} {page} {device.split(' ')[0]} {100 * ratio:.0f} %"
                               for (label, page, device), ratio in ratios.items()),
         "met": max(ratios.values()) <= 0.5},
        {"target": "each photo's file within ~25 % of its drawn width × DPR",
         "measured": f"{len(inside)} of {len(fits)}; furthest {worst[3]:.2f}× ({worst[2]}, {worst[0]}, "
                     f"{worst[1].split(',')[0]})", "met": len(inside) == len(fits)},
    ]
    if now_audits:
        scores = [found["score"] for found in now_audits.values()]
        cls = max(found["cls"] for found in now_audits.values())
        targets += [{"target": f"Lighthouse performance ≥ 95 (list, gallery; mobile, desktop; {audited} photos)",
                     "measured": f"{min(scores)}–{max(scores)}", "met": min(scores) >= 95},
                    {"target": "Lighthouse CLS 0", "measured": f"max {cls:.3f}", "met": cls == 0}]
    now_jumps = [each for each in found_jumps if each[0] == "now"]
    targets.append({"target": "CLS 0: every photo's box reserved before its file arrives",
                    "measured": "; ".join(sorted({f"{page} {device.split(' ')[0]}: {role} {before:.0f} → {after:.0f} px"
                                                  for _, page, device, role, before, after in now_jumps}))
                    or "all reserved", "met": not now_jumps})
    write_section("delivery", "13. delivery — what readers' browsers download, JPEG only vs `<picture>`", body,
                  targets, seconds)
    for row in byte_rows:
        say(" | ".join(map(str, row)))
    say(f"wrote the delivery section of bench/RESULTS.md in {seconds:.0f} s")
