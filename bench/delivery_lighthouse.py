"""Lighthouse (npm ``lighthouse``, installed by the benchmark into bench/.work/lighthouse/ with npm)
on Debian's chromium, headless: the performance score, CLS, LCP and the image audits of a page.

Its default config is a mobile page load (Moto G Power's 412 px screen at DPR 1.75, slow 4G and a
4× slower CPU, *simulated*: Lighthouse loads the page unthrottled and models the throttled timings);
``--preset=desktop`` is a 1350 px screen at DPR 1 on a fast network. Figures are reported as
Lighthouse gives them.
"""

import json
import os
import re
import subprocess

from bench.common import WORK, say
from bench.delivery_browser import CHROMIUM

VERSION = "12.8.2"  # the last line whose engines accept Debian 12's Node 20 (13.x needs Node >= 22.19)
PREFIX = WORK / "lighthouse"
CLI = PREFIX / "node_modules" / "lighthouse" / "cli" / "index.js"
IMAGE_AUDITS = ("modern-image-formats", "uses-responsive-images", "offscreen-images", "unsized-images")
MORE_AUDITS = ("lcp-lazy-loaded", "prioritize-lcp-image")
CONFIGS = (("mobile (default)", []), ("desktop (--preset=desktop)", ["--preset=desktop"]))


def installed_version():
    package = PREFIX / "node_modules" / "lighthouse" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else None


def install():
    """Lighthouse VERSION under bench/.work/lighthouse/ (npm, once); None if it could not be had, with why."""
    if installed_version() == VERSION:
        return None
    PREFIX.mkdir(parents=True, exist_ok=True)
    say(f"  npm install lighthouse@{VERSION} into {PREFIX} ...")
    try:
        subprocess.run(["npm", "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", f"lighthouse@{VERSION}"],
                       check=True, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as error:
        detail = (getattr(error, "stderr", "") or str(error)).strip().splitlines() or [str(error)]
        return f"npm install lighthouse@{VERSION} failed: {detail[-1]}"
    return None if installed_version() == VERSION else "npm install did not leave lighthouse in place"


def run(url, extra_args, output, attempts=3):
    """The Lighthouse report (its JSON, as a dict) of ``url``; ``output``: where it is written.
    A run that fails (Chromium not answering its DevTools port in time, on this loaded machine) is
    tried again; after ``attempts`` failures, RuntimeError with Lighthouse's last words."""
    command = ["node", str(CLI), url, "--output=json", f"--output-path={output}", "--only-categories=performance",
               "--quiet", "--chrome-flags=--headless=new --no-sandbox --disable-gpu", *extra_args]
    for _ in range(attempts):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "CHROME_PATH": CHROMIUM})
        if done.returncode == 0:
            return json.loads(output.read_text())
        lines = (done.stderr or done.stdout).strip().splitlines()
        say(f"  lighthouse failed ({done.returncode}): {' / '.join(lines[-3:])[:300]}")
    raise RuntimeError(f"lighthouse failed {attempts} times on {url}: {lines[-1][:200] if lines else '?'}")


def summary(report):
    """{"score", "cls", "lcp_ms", "lcp_element", audit id: text} of a Lighthouse report."""
    audits = report["audits"]
    found = {"score": round(report["categories"]["performance"]["score"] * 100),
             "cls": audits["cumulative-layout-shift"]["numericValue"],
             "lcp_ms": audits["largest-contentful-paint"]["numericValue"],
             "bytes": audits["total-byte-weight"]["numericValue"],
             "lcp_element": lcp_element(audits.get("largest-contentful-paint-element", {})),
             "shifts": shift_culprits(audits.get("layout-shifts")),
             "benchmark_index": report.get("environment", {}).get("benchmarkIndex")}
    for audit_id in (*IMAGE_AUDITS, *MORE_AUDITS):
        found[audit_id] = audit_text(audits.get(audit_id))
    return found


def audit_text(audit):
    """'pass', 'n/a', or what it found ('fail: 3 items, 120 KB to save')."""
    if audit is None:
        return "absent"
    if audit.get("scoreDisplayMode") in ("notApplicable", "manual", "informative") and audit.get("score") is None:
        return "n/a"
    if audit.get("score") == 1:
        return "pass"
    details = audit.get("details") or {}
    items = len(details.get("items", []))
    saving = details.get("overallSavingsBytes")
    parts = [f"{items} item{'s' if items != 1 else ''}"] if items else []
    if saving:
        parts.append(f"{saving / 1024:.0f} KB to save")
    return f"fail ({', '.join(parts) or audit.get('displayValue', '')})"


def first_node(audit):
    """The first element an audit names ({"selector", "snippet", ...}), or {}."""
    for item in (audit.get("details") or {}).get("items", []):
        for inner in item.get("items", [item]):
            if (inner.get("node") or {}).get("selector"):
                return inner["node"]
    return {}


def lcp_element(audit):
    """The LCP element: its selector, and how it loads when it is an image ('... img.photo, loading=lazy')."""
    node = first_node(audit)
    loading = re.search(r'loading="(\w+)"', node.get("snippet", ""))
    return node.get("selector", "?") + (f", loading={loading[1]}" if loading else "")


def shift_culprits(audit):
    """'<element that moved> (<cause>: <element>)' of the largest layout shift, or ''."""
    items = (audit.get("details") or {}).get("items", []) if audit else []
    if not items:
        return ""
    moved = items[0].get("node", {}).get("selector", "?")
    causes = [f"{sub.get('cause', '?')}: {sub.get('extra', {}).get('selector', '?')}"
              for sub in (items[0].get("subItems") or {}).get("items", [])]
    return f"{moved} moved {items[0].get('score', 0):.3f} ({'; '.join(causes) or 'no cause given'})"
