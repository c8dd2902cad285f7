"""SHA-256 manifests of artifacts: build one from files, hash it, check files against it.

A manifest is a JSON object ``{"algorithm": "sha256", "files": {relative_path: hex_digest}}``.
Its own hash (the *manifest hash*) is the SHA-256 of its canonical JSON encoding (sorted keys, no
spaces), so any change to any listed file, or to the list itself, changes the manifest hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

ALGORITHM = "sha256"
MANIFEST_FILE = "manifest.json"
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class ManifestCheck:
    """The result of checking files against a manifest.

    Attributes
    ----------
    changed : relative paths whose content no longer has the listed hash.
    missing : relative paths listed but absent.
    checked : number of listed files compared.
    """

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    checked: int = 0
    extra: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.changed and not self.missing

    def describe(self) -> str:
        """One line naming what does not match (or that everything matches)."""
        if self.ok:
            return f"all {self.checked} artifacts match the manifest"
        parts = []
        if self.changed:
            parts.append(f"changed: {', '.join(self.changed[:5])}" + (" ..." if len(self.changed) > 5 else ""))
        if self.missing:
            parts.append(f"missing: {', '.join(self.missing[:5])}" + (" ..." if len(self.missing) > 5 else ""))
        return "; ".join(parts)


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_manifest(root: str | os.PathLike, prefix: str = "", exclude: tuple[str, ...] = (MANIFEST_FILE,)) -> dict:
    """The manifest of every file under `root`, keyed by ``prefix + path relative to root``.

    Parameters
    ----------
    root : folder whose files are hashed (recursively; symlinks are followed).
    prefix : prepended to each relative path, e.g. ``"model/"`` for a model's files.
    exclude : relative paths left out (the manifest file itself by default).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: folder to hash not found")
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative in exclude:
            continue
        files[prefix + relative] = file_sha256(path)
    return {"algorithm": ALGORITHM, "files": files}


def merge(*manifests: dict) -> dict:
    """One manifest listing the files of all; a path listed twice must have the same hash."""
    files: dict[str, str] = {}
    for manifest in manifests:
        _check_shape(manifest)
        for path, digest in manifest["files"].items():
            if path in files and files[path] != digest:
                raise ValueError(f"manifest path '{path}' listed twice with different hashes")
            files[path] = digest
    return {"algorithm": ALGORITHM, "files": dict(sorted(files.items()))}


def manifest_hash(manifest: dict) -> str:
    """Hex SHA-256 of the manifest's canonical JSON (sorted keys, compact separators)."""
    _check_shape(manifest)
    return hashlib.sha256(canonical_json(manifest)).hexdigest()


def canonical_json(obj) -> bytes:
    """The canonical UTF-8 JSON encoding used for every hash in the registry."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def write_manifest(manifest: dict, path: str | os.PathLike) -> str:
    """Write the manifest as JSON and return its manifest hash."""
    Path(path).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest_hash(manifest)


def read_manifest(path: str | os.PathLike) -> dict:
    """Read and shape-check a manifest file."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable manifest ({exc})") from None
    _check_shape(manifest, source=str(path))
    return manifest


def check_files(manifest: dict, root: str | os.PathLike, prefix: str = "") -> ManifestCheck:
    """Compare the files under `root` with the entries of `manifest` whose path starts with `prefix`.

    The file of entry ``prefix + rel`` is ``root / rel``. Files present under `root` but not listed
    are reported in `extra` and do not fail the check (artifacts may be added after the fact, e.g.
    by another tool); a changed or missing listed file fails it.
    """
    _check_shape(manifest)
    root = Path(root)
    changed, missing, checked = [], [], 0
    listed = set()
    for path, expected in manifest["files"].items():
        if not path.startswith(prefix):
            continue
        relative = path[len(prefix):]
        listed.add(relative)
        checked += 1
        target = root / relative
        if not target.is_file():
            missing.append(path)
        elif file_sha256(target) != expected:
            changed.append(path)
    extra = tuple(
        prefix + p.relative_to(root).as_posix()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in listed
        and p.relative_to(root).as_posix() != MANIFEST_FILE
    ) if root.is_dir() else ()
    return ManifestCheck(tuple(changed), tuple(missing), checked, extra)


def _check_shape(manifest, source: str = "manifest") -> None:
    if not isinstance(manifest, dict) or manifest.get("algorithm") != ALGORITHM or not isinstance(
        manifest.get("files"), dict
    ):
        raise ValueError(f"{source}: expected {{'algorithm': 'sha256', 'files': {{path: hash}}}}")
