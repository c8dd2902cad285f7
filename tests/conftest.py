"""Shared fixtures: an isolated project root so tests never touch the repo's runs/, reports/ or mlruns/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _no_outside_tracking(monkeypatch):
    """Tests use the store of their own project root, never a team server from the environment."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A throw-away project root: a copy of params/, the real notebooks linked in, an empty mlruns/."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "params", root / "params")
    (root / "notebooks").symlink_to(REPO / "notebooks", target_is_directory=True)
    (root / "mlruns").mkdir()
    tabular = root / "params" / "germancredit.yaml"
    tabular.write_text(
        tabular.read_text().replace("../shared/data/germancredit.csv", str(SHARED_DATA / "germancredit.csv"))
    )
    return root


def creditmine_env() -> dict[str, str]:
    """The environment for `creditmine` subprocesses: no outside tracking server, a headless backend."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["MPLBACKEND"] = "Agg"
    return env
