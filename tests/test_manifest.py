"""Artifact manifests: SHA-256 per file, a canonical manifest hash, and checks that name what changed."""

from __future__ import annotations

import hashlib

import pytest

from creditmine.registry import manifest as mf


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "04_validate").mkdir()
    (tmp_path / "04_validate" / "validation.json").write_text('{"verdict": "green"}')
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "04_validate.html").write_bytes(b"<html>" + bytes(range(256)) * 5000 + b"</html>")
    return tmp_path


def test_file_hash_is_sha256_of_the_bytes(folder):
    path = folder / "reports" / "04_validate.html"
    assert mf.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_lists_every_file_with_prefix_and_skips_the_manifest(folder):
    mf.write_manifest(mf.build_manifest(folder), folder / mf.MANIFEST_FILE)
    m = mf.build_manifest(folder, prefix="run/")
    assert sorted(m["files"]) == ["run/04_validate/validation.json", "run/reports/04_validate.html"]
    assert m["algorithm"] == "sha256"


def test_manifest_hash_is_canonical_and_changes_with_any_file(folder):
    m = mf.build_manifest(folder)
    reordered = {"files": dict(reversed(list(m["files"].items()))), "algorithm": "sha256"}
    assert mf.manifest_hash(m) == mf.manifest_hash(reordered)
    (folder / "04_validate" / "validation.json").write_text('{"verdict": "amber"}')
    assert mf.manifest_hash(mf.build_manifest(folder)) != mf.manifest_hash(m)


def test_check_names_changed_and_missing_files(folder):
    m = mf.build_manifest(folder)
    assert mf.check_files(m, folder).ok
    (folder / "04_validate" / "validation.json").write_text('{"verdict": "green" }')
    (folder / "reports" / "04_validate.html").unlink()
    (folder / "new.txt").write_text("added later")
    check = mf.check_files(m, folder)
    assert not check.ok
    assert check.changed == ("04_validate/validation.json",)
    assert check.missing == ("reports/04_validate.html",)
    assert check.extra == ("new.txt",)
    assert "changed: 04_validate/validation.json" in check.describe()


def test_check_with_prefix_only_looks_at_its_entries(folder, tmp_path_factory):
    model = tmp_path_factory.mktemp("model")
    (model / "MLmodel").write_text("flavors: {}")
    m = mf.merge(mf.build_manifest(folder), mf.build_manifest(model, prefix="model/"))
    assert mf.check_files(m, model, prefix="model/").checked == 1
    (model / "MLmodel").write_text("flavors: {python_function: {}}")
    assert mf.check_files(m, model, prefix="model/").changed == ("model/MLmodel",)


def test_merge_refuses_conflicting_hashes():
    a = {"algorithm": "sha256", "files": {"x": "1" * 64}}
    b = {"algorithm": "sha256", "files": {"x": "2" * 64}}
    assert mf.merge(a, a) == a
    with pytest.raises(ValueError, match="'x' listed twice"):
        mf.merge(a, b)


def test_unreadable_manifest_names_the_file(tmp_path):
    bad = tmp_path / "manifest.json"
    bad.write_text('{"files": []}')
    with pytest.raises(ValueError, match="manifest.json"):
        mf.read_manifest(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable manifest"):
        mf.read_manifest(bad)
