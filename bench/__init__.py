"""Benchmarks of the photo path to HostGator (not tests: they print figures and assert nothing).

Run them all with ``bench/run`` (writes bench/RESULTS.md), or one with ``.venv/bin/python -m bench.<name>``:
storage_uploads, photo_pages, photo_save, migration. Servers: bench/servers.py; shared helpers: bench/common.py;
synthetic photos (cached in bench/.work/): bench/photos.py.
"""
