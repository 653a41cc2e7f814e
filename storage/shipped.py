"""The files this site ships for the photo folder on the host: the default images and the .htaccess
guard. check_hostgator --fix installs them on HostGator; the embedded default places them locally."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGES_DIR = HERE / "default_images"
GUARD_FILE = HERE / "photo_folder.htaccess"
GUARD_NAME = ".htaccess"
