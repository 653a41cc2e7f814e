"""bench.encoders' figures as RESULTS.md tables, and the settings they recommend.

Recommendation rule, per codec: of its settings at their chosen quality, those within 2 % of the
smallest median size, the one with the least CPU over the whole ladder (past that knee, more CPU
buys almost no bytes)."""

from bench.common import median, table
from bench.encoder_photos import PHOTOS

UPLOAD_BUDGET = 0.35  # CPU seconds of one core per 12 MP photo for what is made at upload
KNEE = 1.02


def _name(setting):
    codec, effort = setting
    return {"AVIF": f"AVIF speed {effort}", "WebP": f"WebP method {effort}", "JPEG": f"JPEG q{effort}"}[codec]


def _of(rows, dataset, width=None):
    return [row for row in rows if row["dataset"] == dataset and (width is None or row["width"] == width)]


def _ms(seconds):
    return f"{seconds * 1000:.0f}" if seconds >= 0.0095 else f"{seconds * 1000:.1f}"


def report(datasets, matches, fixed, chosen, cpu, settings, jpeg, widths, ladder):
    primary = datasets[0][0]
    sources = {label: f"{package} `{name}`" for package, name, label, *_ in PHOTOS}
    parts = [f"Data set **{primary}**" + (" (main), synthetic second" if len(datasets) > 1 else "") + ". Photos, "
             "each a 2016×1512 master (draft decode, 4:3 crop, LANCZOS), ladder copies LANCZOS from it; "
             "SSIMULACRA2 of each encode against the uncompressed copy:", ""]
    rows = []
    for name, photos in datasets:
        for label, description, _ in photos:
            scores = {row["width"]: row for row in matches if row["dataset"] == name and row["label"] == label}
            rows.append((label, description, sources.get(label, "bench/photos.py"),
                         *(f"{scores[w]['jpeg_score']:.1f}" for w in widths),
                         f"{scores[widths[0]]['jpeg_bytes'] / 1000:.0f} KB"))
    parts += [table(("photo", "content", "source (Debian package, fetched at run time)",
                     *(f"JPEG q85 score {w}" for w in widths), f"JPEG bytes {widths[0]}"), rows), ""]

    parts += ["**Matching** JPEG q85's score, per photo and width: quality found, median (min–max) over the "
              "photos, and size at it relative to JPEG q85 (median)" +
              ("; last column the synthetic set's size ratio, all widths" if len(datasets) > 1 else "") + ":", ""]
    rows = []
    for setting in settings:
        cells = []
        for width in widths:
            found = _of(matches, primary, width)
            qualities = [row[setting]["q"] if row[setting]["q"] is not None else 100 for row in found]
            ratio = median([row[setting]["bytes"] / row["jpeg_bytes"] for row in found])
            cells.append(f"q{median(qualities):.0f} ({min(qualities):.0f}–{max(qualities):.0f}), {ratio:.2f}×")
        if len(datasets) > 1:
            other = _of(matches, datasets[1][0])
            cells.append(f"{median([row[setting]['bytes'] / row['jpeg_bytes'] for row in other]):.2f}×")
        rows.append((_name(setting), *cells))
    parts += [table(("setting", *(f"{w} px" for w in widths), *(["synthetic"] if len(datasets) > 1 else [])), rows), ""]

    parts += ["**Chosen quality** (the median matched quality of the main set, one for every photo and "
              "width) scored again: median score minus JPEG q85's (worst photo-width), and size relative to "
              "JPEG q85 (median) at the matched widths and over the whole ladder (step 3's encodes):", ""]
    jpeg_scores = {(row["dataset"], row["label"], row["width"]): row["jpeg_score"] for row in matches}
    jpeg_bytes = {(row["dataset"], row["label"], row["width"]): row["jpeg_bytes"] for row in matches}
    rows, ratios = [], {}
    for setting in settings:
        found = _of(fixed, primary)
        deltas = [row[setting]["score"] - jpeg_scores[(row["dataset"], row["label"], row["width"])] for row in found]
        by_width = [median([row[setting]["bytes"] / jpeg_bytes[(primary, row["label"], w)]
                            for row in _of(fixed, primary, w)]) for w in widths]
        ratios[setting] = median([row[setting]["bytes"] / jpeg_bytes[(primary, row["label"], row["width"])]
                                  for row in found])
        ladder_ratios = [cpu[setting][w][1] for w in ladder]
        rows.append((_name(setting), f"q{chosen[setting]}", f"{median(deltas):+.1f} ({min(deltas):+.1f})",
                     *(f"{ratio:.2f}×" for ratio in by_width),
                     f"{min(ladder_ratios):.2f}–{max(ladder_ratios):.2f}×"))
    parts += [table(("setting", "quality", "score − JPEG's", *(f"size {w}" for w in widths), "size, ladder"), rows),
              ""]

    columns = [jpeg, *settings]
    parts += ["**CPU ms per encode** (process CPU, one core, median of the encodes then over the photos; AVIF "
              "max_threads=1), at the chosen qualities:", ""]
    rows = [(f"{w} px", *(_ms(cpu[setting][w][0]) for setting in columns)) for w in ladder]
    totals = {setting: sum(cpu[setting][w][0] for w in ladder) for setting in columns}
    rows.append(("whole ladder", *(f"**{_ms(totals[setting])}**" for setting in columns)))
    rows.append(("× JPEG's", *(f"{totals[setting] / totals[jpeg]:.1f}×" for setting in columns)))
    fits = []
    for setting in columns:
        spent, widest = 0.0, None
        for w in ladder:  # narrowest first: the widths a page needs soonest are the small ones
            if spent + cpu[setting][w][0] > UPLOAD_BUDGET:
                break
            spent, widest = spent + cpu[setting][w][0], w
        fits.append(f"≤ {widest} px ({_ms(spent)})" if widest else "none")
    rows.append((f"fits {UPLOAD_BUDGET} s from 320 px up", *fits))
    short = {jpeg: "JPEG q85", **{s: f"{_name(s).replace(' speed ', ' s').replace(' method ', ' m')} q{chosen[s]}"
                                  for s in settings}}
    parts += [table(("width", *(short[setting] for setting in columns)), rows), ""]

    recommended = {}
    for codec in ("AVIF", "WebP"):
        mine = [s for s in settings if s[0] == codec]
        best = min(ratios[s] for s in mine)
        recommended[codec] = min((s for s in mine if ratios[s] <= best * KNEE), key=lambda s: totals[s])
    lines = []
    for codec, setting in recommended.items():
        widest = ladder[-1]
        lines.append(f"{_name(setting)}, quality {chosen[setting]}: {ratios[setting]:.2f}× JPEG q85's bytes "
                     f"(median), {_ms(totals[setting])} ms CPU for the whole ladder "
                     f"({_ms(cpu[setting][widest][0])} at {widest} px; JPEG {_ms(cpu[jpeg][widest][0])})")
    parts += ["**Recommended** (per codec: within 2 % of its smallest size, the least CPU): " + "; ".join(lines) + "."]
    targets = [{"target": f"{codec} with JPEG q85's look (SSIMULACRA2) at the smallest size",
                "measured": f"{short[setting]}: {ratios[setting]:.2f}× JPEG's bytes, {_ms(totals[setting])} ms CPU "
                            f"per photo for the 9-width ladder", "met": ratios[setting] < 1}
               for codec, setting in recommended.items()]
    return "\n".join(parts), targets
