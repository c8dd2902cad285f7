"""What a decision model's files must be to be registered and loaded: data read by the installed creditmine.

A decision model loads through `creditmine.decision.loader` (its MLmodel's only flavor, with its data
folder at `data/decision`), and its files are an allowlist: MLflow's metadata files at the top and,
in the data folder, JSON, CSV and skops files. No code directory, no pickled Python model, no other
file under any name: a pickle renamed `model.bin` is refused as an unknown file, not recognised by
its suffix. Registration vets the copy it hashes into the manifest, and every load vets the
verified copy it is about to read, so a file swapped in between cannot slip through.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

__all__ = ["DATA_DIR", "LOADER_MODULE", "vet_model"]

LOADER_MODULE = "creditmine.decision.loader"
DATA_DIR = "data/decision"
# what MLflow writes beside MLmodel when it logs a pyfunc (and, on download, registered_model_meta)
_METADATA_FILES = frozenset({"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "input_example.json",
                             "serving_input_example.json", "registered_model_meta"})
_DATA_FILE = re.compile(rf"^{re.escape(DATA_DIR)}/[A-Za-z0-9_.-]+\.(json|csv|skops)$")
_CODE_KEYS = ("code", "python_model", "model_code_path", "cloudpickle_version", "artifacts")


def vet_model(model_dir: Path) -> list[str]:
    """Why the decision model in `model_dir` may not be registered or loaded (empty when it may)."""
    model_dir = Path(model_dir)
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return ["it has no MLmodel file"]
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [f"its MLmodel file is not YAML ({str(exc).splitlines()[0]})"]
    if not isinstance(spec, dict):
        return ["its MLmodel file is not a mapping"]
    problems = []
    flavors = spec.get("flavors") if isinstance(spec.get("flavors"), dict) else {}
    pyfunc = flavors.get("python_function") if isinstance(flavors.get("python_function"), dict) else {}
    if pyfunc.get("loader_module") != LOADER_MODULE:
        problems.append(f"it must load through {LOADER_MODULE}, not {pyfunc.get('loader_module')!r}")
    if set(flavors) - {"python_function"}:
        problems.append(f"it carries other flavors ({', '.join(sorted(set(flavors) - {'python_function'}))})")
    if pyfunc.get("data") != DATA_DIR:
        problems.append(f"its data folder must be {DATA_DIR}, not {pyfunc.get('data')!r}")
    for key in _CODE_KEYS:
        if pyfunc.get(key):
            problems.append(f"its python_function flavor names {key}: code kept with the artifacts would run")
    if spec.get("code"):
        problems.append("it names a code directory")
    unknown = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*")
                     if (p.is_file() or p.is_symlink()) and not _allowed(p.relative_to(model_dir).as_posix()))
    if unknown:
        problems.append(f"it holds files a decision model does not have ({', '.join(unknown[:5])}"
                        f"{', ...' if len(unknown) > 5 else ''})")
    links = sorted(p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_symlink())
    if links:
        problems.append(f"it holds symbolic links ({', '.join(links[:3])})")
    return problems


def _allowed(relative: str) -> bool:
    return relative in _METADATA_FILES or bool(_DATA_FILE.match(relative))
