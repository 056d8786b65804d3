"""The index folder's layout: kept builds, the ``current`` pointer, the build lock.

::

    index/
      current              the id of the build being served (one line, replaced atomically)
      builds/<id>/         one complete build per manifest id (see coach.index for its files)
      builds/.tmp-<uuid>/  a build being written (removed by the next build if it crashed)
      cache/               embedded vectors by model and text (coach.vectors)
      .build.lock          held by the one build allowed at a time (filelock)

A build writes a fresh ``.tmp-<uuid>`` folder, renames it to ``builds/<id>``
(a folder that never changes again) and then replaces ``current``. Each step
is atomic, so a build killed at any moment leaves either the previous build or
the new one serving, never a mix. ``current`` is a small file rather than a
symlink: ``os.replace`` of a file is atomic on every platform, it needs no
symlink permission (Windows), and it survives being copied to a replica or
into a container image. The last builds are kept so that an audited answer
can be checked against the exact passages it quoted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from filelock import FileLock

BUILDS = "builds"
CURRENT = "current"
CACHE = "cache"
LOCK = ".build.lock"
TMP_PREFIX = ".tmp-"
ID_RE = re.compile(r"^[0-9a-f]{16}$")
LEGACY_FILES = ["manifest.json", "passages.jsonl", "dense.faiss", "units.npy", "headings.npy", "words.txt"]
"""An index of the earlier layout kept its files directly in ``index/``; the next build adopts it (see adopt_legacy)."""


def build_lock(index_dir: Path, timeout: float = -1) -> FileLock:
    """The lock that lets one build at a time write in ``index_dir`` (across threads and processes)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(index_dir / LOCK, timeout=timeout)


def current_id(index_dir: Path) -> str | None:
    """The manifest id named by ``index/current`` (None when there is no pointer)."""
    try:
        text = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text or None


def current_folder(index_dir: Path) -> Path | None:
    """The folder of the build being served, or None when nothing has been built.

    An index written before builds were kept (files directly in ``index/``) is
    served as it is until the next build replaces it.
    """
    mid = current_id(index_dir)
    if mid is not None:
        return index_dir / BUILDS / mid
    if (index_dir / "manifest.json").exists():
        return index_dir
    return None


def build_path(index_dir: Path, manifest_id: str) -> Path | None:
    """The folder of the kept build ``manifest_id`` (with its ``passages.jsonl``), or None.

    None when that build was pruned, never existed, or ``manifest_id`` is not
    an id at all (it is never used to form a path outside ``index/builds``).
    """
    if not ID_RE.match(manifest_id):
        return None
    folder = index_dir / BUILDS / manifest_id
    if (folder / "manifest.json").is_file():
        return folder
    legacy = index_dir / "manifest.json"
    if current_id(index_dir) is None and legacy.is_file():
        from coach.records import Manifest

        try:
            data = json.loads(legacy.read_text(encoding="utf-8"))
            data.pop("files", None)
            data.pop("file_states", None)
            if Manifest.model_validate(data).id == manifest_id:
                return index_dir
        except ValueError:
            return None
    return None


def new_build_folder(index_dir: Path) -> Path:
    """A fresh, empty, uniquely named folder to write one build into."""
    folder = index_dir / BUILDS / f"{TMP_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def _fsync(path: Path) -> None:
    """Flush one file or folder entry to disk; a platform that cannot (Windows folders) is skipped."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in [*folder.rglob("*"), folder]:
        _fsync(path)


def publish(index_dir: Path, tmp: Path, manifest_id: str) -> Path:
    """Move the finished build ``tmp`` to ``builds/<manifest_id>`` and make it current.

    Call with the build lock held. Returns the build's folder.
    """
    _fsync_tree(tmp)  # the data reaches the disk before any name points at it
    final = index_dir / BUILDS / manifest_id
    if final.exists():
        raise FileExistsError(f"A build with id {manifest_id} already exists in {index_dir}.")
    os.rename(tmp, final)
    _point_at(index_dir, manifest_id)
    _remove_legacy(index_dir)
    return final


def _point_at(index_dir: Path, manifest_id: str) -> None:
    """Make ``manifest_id`` current: write a new pointer file and replace the old one in one step."""
    pointer = index_dir / f"{TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex}"
    with open(pointer, "w", encoding="utf-8") as f:
        f.write(manifest_id + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(pointer, index_dir / CURRENT)
    _fsync(index_dir)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # no data copied; the old name is removed once the build is adopted
    except OSError:
        shutil.copy2(src, dst)


def adopt_legacy(index_dir: Path) -> str | None:
    """Turn an index of the earlier layout into a kept build, so answers audited against it stay checkable.

    Call with the build lock held. The files are linked (or copied) into
    ``builds/<its manifest id>/``, which becomes current; only then are the old
    names removed, so a crash at any point leaves one complete index serving.
    Returns the adopted id, or None when there was nothing to adopt.
    """
    legacy = index_dir / "manifest.json"
    if current_id(index_dir) is not None or not legacy.is_file():
        return None
    from coach.records import Manifest

    try:
        data = json.loads(legacy.read_text(encoding="utf-8"))
        mid = Manifest.model_validate({k: v for k, v in data.items() if k not in {"files", "file_states"}}).id
    except ValueError:
        return None  # damaged: nothing worth keeping; the next build replaces it
    tmp = new_build_folder(index_dir)
    for name in LEGACY_FILES:
        if name != "manifest.json" and (index_dir / name).is_file():
            _link_or_copy(str(index_dir / name), str(tmp / name))
    if (index_dir / "bm25").is_dir():
        shutil.copytree(index_dir / "bm25", tmp / "bm25", copy_function=_link_or_copy)
    _link_or_copy(str(legacy), str(tmp / "manifest.json"))  # last: a folder without one is never served
    if (index_dir / BUILDS / mid / "manifest.json").is_file():  # adopted before, killed before the switch
        shutil.rmtree(tmp, ignore_errors=True)
        _point_at(index_dir, mid)
        _remove_legacy(index_dir)
    else:
        publish(index_dir, tmp, mid)
    return mid


def _remove_legacy(index_dir: Path) -> None:
    """Delete an old-layout index once ``current`` points at a build (manifest first: it never half-loads)."""
    for name in LEGACY_FILES:
        (index_dir / name).unlink(missing_ok=True)
    shutil.rmtree(index_dir / "bm25", ignore_errors=True)


def _remove(folder: Path) -> None:
    """Delete a folder so that no reader ever sees half of it: rename away first, then delete."""
    doomed = folder.parent / f"{TMP_PREFIX}del-{uuid.uuid4().hex}"
    try:
        os.rename(folder, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def clean_strays(index_dir: Path) -> list[str]:
    """Remove what crashed builds left behind. Call with the build lock held.

    That is every ``builds/.tmp-*`` folder, half-written ``current`` pointers,
    build folders without a manifest, and the ``.index.building-<pid>`` /
    ``.index.old-<pid>`` siblings of the earlier layout. Returns their names.
    """
    removed: list[str] = []
    builds = index_dir / BUILDS
    if builds.is_dir():
        for child in builds.iterdir():
            if child.is_dir() and (child.name.startswith(TMP_PREFIX) or not (child / "manifest.json").is_file()):
                shutil.rmtree(child, ignore_errors=True)
                removed.append(child.name)
            elif child.is_file():
                child.unlink(missing_ok=True)
                removed.append(child.name)
    for child in index_dir.glob(f"{TMP_PREFIX}{CURRENT}-*"):
        child.unlink(missing_ok=True)
        removed.append(child.name)
    parent = index_dir.resolve().parent
    for pattern in (f".{index_dir.name}.building-*", f".{index_dir.name}.old-*"):
        for child in parent.glob(pattern):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
    return removed


def kept_builds(index_dir: Path) -> list[tuple[str, str]]:
    """``(manifest id, built_at)`` of every complete build, newest first."""
    out: list[tuple[str, str]] = []
    builds = index_dir / BUILDS
    if not builds.is_dir():
        return out
    for child in builds.iterdir():
        if child.name.startswith(TMP_PREFIX) or not ID_RE.match(child.name):
            continue
        try:
            built_at = json.loads((child / "manifest.json").read_text(encoding="utf-8"))["built_at"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out.append((child.name, str(built_at)))
    out.sort(key=lambda kv: kv[1], reverse=True)
    return out


def prune(index_dir: Path, keep: int, max_age_days: float | None = None) -> list[str]:
    """Delete old builds: beyond the newest ``keep``, or older than ``max_age_days``.

    The current build is always kept. Call with the build lock held. Returns
    the ids removed.
    """
    from datetime import datetime

    current = current_id(index_dir)
    removed = []
    now = time.time()
    for rank, (mid, built_at) in enumerate(kept_builds(index_dir)):
        if mid == current:
            continue
        too_many = rank >= max(keep, 1)
        too_old = False
        if max_age_days is not None:
            try:
                too_old = now - datetime.fromisoformat(built_at).timestamp() > max_age_days * 86400
            except ValueError:
                too_old = False
        if too_many or too_old:
            _remove(index_dir / BUILDS / mid)
            removed.append(mid)
    return removed
