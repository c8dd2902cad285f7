"""The bytes of a registered version: its manifest, the check of every file against it, and a
verified local copy of the decision model that later loads re-hash instead of downloading again.

A version's manifest lists the SHA-256 of every artifact of its run and of every file of its
decision model (under ``model/``); its own hash is recorded, signed, in the version's register
entry of the audit trail. A file that no longer has its listed hash, or a listed file that is gone,
means the artifacts changed after registration.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from creditmine.registry import manifest as mf
from creditmine.registry.vetting import vet_model

__all__ = ["MODEL_PREFIX", "check_version_files", "manifest_of", "read_version_manifest", "verified_model_dir"]

MODEL_PREFIX = "model/"
# written by MLflow into a downloaded copy of a registered model, never stored with it
DOWNLOAD_ONLY = ("registered_model_meta",)
ENV_CACHE = "CREDITMINE_MODEL_CACHE"


def manifest_of(run_dir: Path, model_dir: Path) -> dict:
    """The manifest of local copies of a run's artifacts and of its decision model (the copies a
    registration vetted and read: hashing another download could record a file swapped in between)."""
    run_part = mf.build_manifest(run_dir)
    model_part = mf.build_manifest(model_dir, prefix=MODEL_PREFIX, exclude=(mf.MANIFEST_FILE, *DOWNLOAD_ONLY))
    return mf.merge(run_part, model_part)


def read_version_manifest(registry, run_id: str, manifest_hash: str) -> dict:
    """The run's manifest.json, refused (ValueError) unless it hashes to the recorded manifest hash."""
    with tempfile.TemporaryDirectory(prefix="creditmine-manifest-") as tmp:
        path = registry.download(f"{registry.run_artifact_uri(run_id)}/{mf.MANIFEST_FILE}", Path(tmp))
        manifest = mf.read_manifest(path)
    if mf.manifest_hash(manifest) != manifest_hash:
        raise ValueError(f"{mf.MANIFEST_FILE} of run {run_id} no longer hashes to the registered {manifest_hash[:12]}")
    return manifest


def check_version_files(registry, run_id: str, model_location: str, manifest: dict) -> list[str]:
    """What no longer matches the manifest: changed or missing run artifacts and model files."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="creditmine-check-") as tmp:
        run_dir = registry.download(registry.run_artifact_uri(run_id), Path(tmp) / "run")
        run_check = mf.check_files(_part(manifest, model=False), run_dir)
        if not run_check.ok:
            problems.append(f"run artifacts: {run_check.describe()}")
        model_dir = registry.download(model_location, Path(tmp) / "model")
        model_check = mf.check_files(_part(manifest, model=True), model_dir, prefix=MODEL_PREFIX)
        if not model_check.ok:
            problems.append(f"model files: {model_check.describe()}")
    return problems


def model_files_problems(manifest: dict, model_dir: Path) -> list[str]:
    """Files of a local copy of the model that do not match the manifest (changed, missing, or
    present but not listed: an extra file could be loaded)."""
    check = mf.check_files(_part(manifest, model=True), model_dir, prefix=MODEL_PREFIX)
    extra = [p for p in check.extra if p[len(MODEL_PREFIX):] not in DOWNLOAD_ONLY]
    problems = [] if check.ok else [check.describe()]
    if extra:
        problems.append(f"not in the manifest: {', '.join(extra[:5])}")
    return problems


def verified_model_dir(registry, model_location: str, manifest: dict, manifest_hash: str) -> Path:
    """A local copy of the decision model whose every byte matches the manifest, and whose files are
    a decision model's (`creditmine.registry.vetting.vet_model`, checked again on every load).

    The copy is kept under the model cache (``$CREDITMINE_MODEL_CACHE``, else
    ``~/.cache/creditmine/models``), keyed by the manifest hash: a later call re-hashes the cached
    files instead of downloading them again, and downloads afresh when they no longer match.

    Raises
    ------
    ValueError : the store's files do not match the manifest.
    """
    cache = _cache_root() / manifest_hash
    if cache.is_dir() and not model_files_problems(manifest, cache):
        return _vetted(cache)
    shutil.rmtree(cache, ignore_errors=True)
    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = Path(tempfile.mkdtemp(prefix=f".{manifest_hash[:12]}-", dir=cache.parent))
    try:
        downloaded = registry.download(model_location, partial / "model")
        problems = model_files_problems(manifest, downloaded)
        if problems:
            raise ValueError(f"model files do not match the manifest ({'; '.join(problems)})")
        _vetted(downloaded)
        os.replace(downloaded, cache)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return cache


def _vetted(model_dir: Path) -> Path:
    problems = vet_model(model_dir)
    if problems:
        raise ValueError(f"the model's files are not a decision model's ({'; '.join(problems)})")
    return model_dir


def _part(manifest: dict, model: bool) -> dict:
    files = {k: v for k, v in manifest["files"].items() if k.startswith(MODEL_PREFIX) == model
             and (not model or k[len(MODEL_PREFIX):] not in DOWNLOAD_ONLY)}
    return {"algorithm": mf.ALGORITHM, "files": files}


def _cache_root() -> Path:
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "creditmine" / "models"
