"""The bulk commands' pool of photo processes (storage/photo_processes.py): the same photo out of a
worker process as out of this one, a refusal comes back as the editor's ImageRejected, and the pool
is sized by the CPUs a container really has."""

import io

import pytest
from PIL import Image

from storage import photo_processes
from storage.images import ImageRejected, process_photo
from storage.photo_processes import PhotoProcesses, available_cpus, processes_for

LIMITS = {"max_bytes": 15 << 20, "max_pixels": 40_000_000, "max_side": 2048, "rendition_widths": (480, 1024)}


def jpeg(size=(1500, 1000)):
    buffer = io.BytesIO()
    Image.merge("RGB", [Image.linear_gradient("L").resize(size)] * 3).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_worker_process_makes_the_same_photo_and_sends_refusals_back():
    data = jpeg()
    with PhotoProcesses(2) as pool:
        there = pool.process(data, "match.jpg", caps={"WEBP": 12_000_000}, **LIMITS)
        here = process_photo(data, "match.jpg", **LIMITS)
        assert there.original.data == here.original.data and there.content_hash == here.content_hash
        assert {w: r.data for w, r in there.renditions.items()} == {w: r.data for w, r in here.renditions.items()}
        files = pool.make_files(there.original.data, {("avif", 480), ("webp", 1500)})
        assert {key: (r.width, r.height) for key, r in files.items()} == {("avif", 480): (480, 320),
                                                                           ("webp", 1500): (1500, 1000)}
        with pytest.raises(ImageRejected) as refused:
            pool.process(b"<?php system($_GET['c']); ?>", "shell.php.jpg", **LIMITS)
        assert refused.value.code == "dangerous_name" and "renommez le fichier" in refused.value.message


def test_the_pool_counts_the_cpus_of_the_container_not_of_the_machine(tmp_path, monkeypatch):
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(photo_processes, "CGROUP_CPU_MAX", cpu_max)
    monkeypatch.setattr(photo_processes.os, "sched_getaffinity", lambda pid: set(range(8)))
    cpu_max.write_text("10000 100000\n")  # Render's free plan: 0.1 CPU on a machine showing 8
    assert available_cpus() == 0.1 and processes_for(4) == 0  # the work stays in the command's threads
    cpu_max.write_text("200000 100000\n")
    assert processes_for(4) == 2 and processes_for(1) == 0
    cpu_max.write_text("max 100000\n")
    assert available_cpus() == 8 and processes_for(4) == 4
