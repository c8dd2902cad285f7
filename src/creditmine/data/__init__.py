"""Stage 00: the raw tables of the data model, generated, ingested or brought as one tabular file.

`prepare(cfg)` is what the pipeline calls before the notebooks; `io.read_table` is how stages read
the tables; `ingest.ingest` validates a user's files; `synthetic.generate` builds the world.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "prepare"]


class DataError(ValueError):
    """The data a configuration points at is missing, unreadable or incomplete; one-line message."""


def prepare(cfg, progress: bool = True) -> Path:
    """Make the raw data of a run available and return its directory.

    Parameters
    ----------
    cfg : RunConfig, from `creditmine.config.load`.
    progress : show tqdm progress while generating.

    Returns
    -------
    Path of the data directory: `cfg.data_dir` for the synthetic world and ingested files; the
    folder holding the file for a tabular data set.

    Raises
    ------
    DataError
        When ingested tables or the tabular file are missing or unreadable.

    Notes
    -----
    For `data.source == "synthetic"` the world is generated into `cfg.data_dir` unless a complete
    copy (all tables and the `_SUCCESS` marker written last, naming the current generator version)
    is already there; a partial folder left by an interrupted run, or a world made by an earlier
    generator version, is regenerated. A file lock beside the folder keeps two processes from
    generating the same world at once.
    """
    data = cfg.params.data
    if data.source == "synthetic":
        return _prepare_synthetic(cfg, progress)
    if data.source == "files":
        return _check_ingested(cfg.data_dir)
    return _check_tabular(cfg.resolve(data.tabular.path))


def _prepare_synthetic(cfg, progress: bool) -> Path:
    from filelock import FileLock

    from creditmine.data import synthetic

    data_dir = cfg.data_dir
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_dir.parent / f".{data_dir.name}.lock")):
        if synthetic.is_complete(data_dir):
            return data_dir
        synthetic.remove_partial(data_dir)
        synthetic.generate(cfg.params.data.synthetic, cfg.params.seed, data_dir, progress=progress)
    return data_dir


def _check_ingested(data_dir: Path) -> Path:
    """Every stage table is there, readable, with the data model's columns."""
    import pyarrow.parquet as pq

    from creditmine.data import io

    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data.files_dir does not exist; run `creditmine ingest --out {data_dir}` first")
    for name in io.TABLES:
        path = io.table_path(data_dir, name)
        if not path.is_file():
            raise DataError(f"{path}: table '{name}' missing; run `creditmine ingest --out {data_dir}` first")
        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # noqa: BLE001 - any reader error means the file is unusable
            raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
        missing = [c for c in io.ARROW_SCHEMAS[name].names if c not in names]
        if missing:
            raise DataError(f"{path}: missing column {', '.join(missing)}; ingest the source files again")
    return data_dir


def _check_tabular(path: Path) -> Path:
    """The bring-your-own file exists and its first bytes can be read."""
    if not path.is_file():
        raise DataError(f"{path}: data.tabular.path not found")
    try:
        with path.open("rb") as handle:
            handle.read(1024)
    except OSError as exc:
        raise DataError(f"{path}: not readable ({exc.strerror})") from None
    return path.parent
