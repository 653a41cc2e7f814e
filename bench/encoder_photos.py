"""Real photographs for bench.encoders, taken at run time from Debian's wallpaper packages (never
committed: they are third-party works), and the synthetic second data set from bench/photos.py.

Each photo becomes a *master* of 2016x1512, what a 12 MP phone photo is after the pipeline's
half-size JPEG decode: libjpeg's draft decode towards that size, a 4:3 crop, a LANCZOS resize.
The ladder's narrower widths are LANCZOS resizes of the master, as storage/images.py makes them."""

import io
import os
import shutil
import subprocess
import tempfile

from PIL import Image

from bench.common import WORK, say
from bench.photos import PHONE_SIZE, phone_photo

MASTER = (2016, 1512)
FOLDER = WORK / "encoders" / "photos"
# (Debian package, file in /usr/share/backgrounds, label, what is in it, where a 4:3 crop starts
# (0 top or left .. 1 bottom or right; 0.5 the centre)). Chosen for variety: fine detail (rock, grass,
# leaves, bark, fur, wood), smooth areas (sky, bokeh, sunset glow), portrait and landscape sources.
PHOTOS = (
    ("lomiri-wallpapers-16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "mountains",
     "rocky peaks, snow, grass path: fine detail", 0.5),
    ("lomiri-wallpapers-16.04", "life_by_Aitzol_Berasategi.jpg", "stream",
     "forest stream, mossy rocks: fine detail", 0.5),
    ("lomiri-wallpapers-16.04", "Dragonfly_by_Bolly.jpg", "leaves", "backlit tree leaves against blue sky", 0.5),
    ("lomiri-wallpapers-16.04", "friends_by_Aitzol_Berasategi.jpg", "dogs",
     "two dogs at a wooden window (portrait source, upper part)", 0.1),
    ("lomiri-wallpapers-16.04", "seeding_by_Clements_Engelhardt.jpg", "dandelions",
     "dandelions, large bokeh: smooth", 0.5),
    ("lomiri-wallpapers-16.04", "sunset_by_Aitzol_Berasategi.jpg", "sunset",
     "sun flare over hills: smooth gradients", 0.5),
    ("lomiri-wallpapers-16.04", "Bridge_by_Sander_Klootwijk.jpg", "bridge",
     "cables across a pale sky: smooth + thin lines", 0.5),
    ("lomiri-wallpapers-20.04", "Kleiber_by_Lukas_Baubkus.jpg", "nuthatch",
     "bird on tree bark, blurred background", 0.5),
)


def fetched(count=None):
    """PHOTOS' entries (the first ``count``), their files fetched if need be; [] with a message saying
    why when the packages cannot be had (the caller falls back to synthetic)."""
    wanted = PHOTOS[:count] if count else PHOTOS
    missing = sorted({package for package, name, *_ in wanted if not (FOLDER / name).exists()})
    for package in missing:
        try:
            _extract(package, [name for pkg, name, *_ in wanted if pkg == package])
        except (OSError, subprocess.CalledProcessError, StopIteration) as error:
            say(f"bench.encoders: could not get Debian package {package} ({error}); real photos need "
                f"`apt-get download` to work (Debian's apt lists: `apt-get update`). Falling back to the "
                f"synthetic photos only.")
            return []
    return wanted


def real_photos(count=None):
    """[(label, description, master RGB image)] of the real photographs (see fetched())."""
    return [(label, description, master(Image.open(FOLDER / name), crop))
            for _, name, label, description, crop in fetched(count)]


def real_phone_photos(count=None):
    """[(label, JPEG bytes)]: the real photographs as a phone sends them, 4032×3024 (12 MP) JPEG q92
    (cached in bench/.work/encoders/phone/); [] when they cannot be had (see fetched())."""
    photos = []
    for _, name, label, _description, crop in fetched(count):
        path = FOLDER.parent / "phone" / f"{label}.jpg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            master(Image.open(FOLDER / name), crop, PHONE_SIZE).save(buffer, "JPEG", quality=92)
            path.write_bytes(buffer.getvalue())
        photos.append((label, path.read_bytes()))
    return photos


def synthetic_photos(count):
    """[(label, description, master)] of bench/photos.py's 12 MP phone-like JPEGs (noise-based: they
    compress unlike real photos, a second data set only), decoded at half size as the pipeline does."""
    return [(f"synthetic-{index}", "bench/photos.py noise + shapes",
             master(Image.open(io.BytesIO(phone_photo(index))), 0.5)) for index in range(count)]


def master(image, crop, size=MASTER):
    """``image`` as a 2016x1512 photo (or ``size``): draft decode (never below it), 4:3 crop, LANCZOS."""
    image.draft("RGB", size)
    image = image.convert("RGB")
    width, height = image.size
    if width * 3 >= height * 4:  # wider than 4:3: crop left and right
        crop_width = height * 4 // 3
        left = round((width - crop_width) * crop)
        box = (left, 0, left + crop_width, height)
    else:
        crop_height = width * 3 // 4
        top = round((height - crop_height) * crop)
        box = (0, top, width, top + crop_height)
    return image.crop(box).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def at_width(image, width):
    """The ladder's copy of ``image`` at ``width``, as storage/images.py's renditions_of makes it."""
    if width == image.width:
        return image
    return image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _extract(package, names):
    """``apt-get download`` the package into a temporary folder (only its .deb: nothing is installed),
    unpack it there with dpkg-deb and keep only ``names``. Debian's lists are refreshed once if the
    package is unknown to them (a fresh machine has none)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cmtch-bench-deb-") as scratch:
        # _apt, which apt downloads as, must be able to write there.
        os.chmod(scratch, 0o777)
        say(f"bench.encoders: fetching Debian package {package} (photos, once: kept in {FOLDER})")
        download = ["apt-get", "download", "-q", package]
        if subprocess.run(download, cwd=scratch, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
            subprocess.run(download, cwd=scratch, check=True, capture_output=True)
        deb = next(entry for entry in os.listdir(scratch) if entry.endswith(".deb"))
        unpacked = os.path.join(scratch, "root")
        subprocess.run(["dpkg-deb", "-x", os.path.join(scratch, deb), unpacked], check=True)
        for name in names:
            shutil.copyfile(os.path.join(unpacked, "usr/share/backgrounds", name), FOLDER / name)
