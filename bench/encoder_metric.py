"""SSIMULACRA2, the perceptual metric bench.encoders equalises quality with (JPEG XL's metric for
compression artefacts: 90 "visually lossless", 70 "high quality", 50 "medium").

The PyPI package ssimulacra2 (a numpy/scipy port of libjxl's tools/ssimulacra2) does the maths; it
is installed at run time into bench/.work/pylib with numpy and scipy, so that neither the project's
virtualenv nor its requirements carry a benchmark-only tool (Debian bookworm's libjxl-tools 0.7
predates the ssimulacra2 tool). ``Reference`` only keeps the original's half of the computation
(its XYB pyramid and blurs) between the many scores taken against one original: the same operations
in the same order, so the same score as the package's compute_ssimulacra2 (``self_check``)."""

import io
import subprocess
import sys

from bench.common import WORK, say

PYLIB = WORK / "pylib"
PACKAGES = ("numpy", "scipy")
METRIC = "ssimulacra2==0.3.0"


def ensure_installed():
    """numpy, scipy and ssimulacra2 importable (appended to sys.path: the project's Pillow stays first)."""
    if str(PYLIB) not in sys.path:
        sys.path.append(str(PYLIB))
    try:
        import scipy  # noqa: F401
        import ssimulacra2  # noqa: F401
        return
    except ImportError:
        pass
    say(f"bench.encoders: installing {', '.join(PACKAGES)} and {METRIC} into {PYLIB} (once)")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(PYLIB)]
    subprocess.run([*pip, *PACKAGES], check=True)
    subprocess.run([*pip, "--no-deps", METRIC], check=True)  # its Pillow requirement is the project's
    import importlib

    importlib.invalidate_caches()


class Reference:
    """One original (an RGB PIL image); ``score(distorted)`` is SSIMULACRA2 of a same-size RGB image."""

    def __init__(self, image):
        from ssimulacra2 import ssimulacra2 as s2

        self._s2 = s2
        self.scales = []  # per scale: (xyb, blur(xyb²), blur(xyb))
        linear = s2.srgb_to_linear(image)
        for scale in range(s2.kNumScales):
            xyb = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
            if xyb.shape[0] < 8 or xyb.shape[1] < 8:
                break
            self.scales.append((xyb, s2.blur_image(xyb * xyb), s2.blur_image(xyb)))
            if scale < s2.kNumScales - 1:
                linear = s2.downsample(linear, 2, 2)

    def score(self, distorted):
        s2 = self._s2
        result = s2.Msssim()
        linear = s2.srgb_to_linear(distorted)
        for index, (img1, sigma1_sq, mu1) in enumerate(self.scales):
            if index:
                linear = s2.downsample(linear, 2, 2)
            img2 = s2.make_positive_xyb(s2.linear_rgb_to_xyb(linear))
            mu2 = s2.blur_image(img2)
            scale = s2.MsssimScale()
            scale.avg_ssim = s2.ssim_map(mu1, mu2, sigma1_sq, s2.blur_image(img2 * img2), s2.blur_image(img1 * img2))
            scale.avg_edgediff = s2.edge_diff_map(img1, mu1, img2, mu2)
            result.scales.append(scale)
        return result.score()


def self_check(image):
    """(ours, package's) scores of a JPEG q50 copy of ``image``: they must agree."""
    from ssimulacra2 import compute_ssimulacra2

    original, distorted = io.BytesIO(), io.BytesIO()
    image.save(original, "PNG")
    image.save(distorted, "JPEG", quality=50)
    from PIL import Image

    ours = Reference(image).score(Image.open(io.BytesIO(distorted.getvalue())).convert("RGB"))
    original.seek(0)
    distorted.seek(0)
    return ours, compute_ssimulacra2(original, distorted)
