"""Batch scoring with a registered decision model: read applications, gate, decide, write.

`creditmine score` is a thin shell over these functions. The deployment gate is checked on the
registered version *before* the model is loaded (and the model checks it again as it loads), so a
version whose review state is not approved, whose audit trail does not verify or whose artifacts do
not match their manifest never scores anything. Rows that cannot be decided automatically come
back as decision "refer" with the reason in `error`; one bad row never stops the batch. Every row
of an application_id that appears more than once in the input is referred, however far apart the
rows are; an input without rows gives an output with the columns and no rows.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK_ROWS = 20_000  # rows per model call: bounds memory and paces the progress bar
_ID_COLUMNS = {"application_id": "string", "enterprise_id": "string", "product": "string"}
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version resolved from a ``models:/`` URI."""

    name: str
    version: str
    uri: str
    alias: str | None = None


def resolve_model(model_uri: str, tracking_uri: str | None = None) -> ModelRef:
    """The registered version a ``models:/<name>@<alias>`` or ``models:/<name>/<version>`` names.

    Raises
    ------
    ValueError : the URI has another form, or the alias or version does not exist.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    match = _MODEL_URI.match(model_uri)
    if not match:
        raise ValueError(
            f"--model must be models:/<name>@<alias> or models:/<name>/<version>; got '{model_uri}'"
        )
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = match["name"]
    try:
        if match["alias"]:
            version = client.get_model_version_by_alias(name, match["alias"]).version
        else:
            version = client.get_model_version(name, match["version"]).version
    except MlflowException as exc:
        hint = ""
        if match["alias"] == "champion":
            hint = (f"; a version becomes champion once a validator approves and promotes it: "
                    f"`creditmine review list {name}`, then `creditmine review approve {name} VERSION --comment ...` "
                    f"and `creditmine review promote {name} VERSION`")
        raise ValueError(f"{model_uri}: not found in {tracking_uri} ({_first_line(exc)}){hint}") from None
    return ModelRef(name=name, version=str(version), uri=f"models:/{name}/{version}", alias=match["alias"])


def load_decision_model(model_uri: str, tracking_uri: str | None = None):
    """Check the deployment gate of the version `model_uri` names, then load it as a pyfunc.

    Raises
    ------
    creditmine.registry.gate.DeploymentRefused : the gate refuses the version (message says why).
    ValueError : the URI names no registered version.
    """
    import mlflow

    ref = resolve_model(model_uri, tracking_uri)
    local = verified_copy(ref, tracking_uri)
    # the model's loader checks the gate again on the files it reads, in the store it belongs to
    with tracking_store(tracking_uri):
        return mlflow.pyfunc.load_model(str(local))


def verified_copy(ref: "ModelRef", tracking_uri: str | None = None):
    """The deployment gate on the version `ref` names, then the verified local copy of its model.

    Raises
    ------
    creditmine.registry.gate.DeploymentRefused : the gate refuses the version (message says why).
    """
    from creditmine.registry.gate import check_deployable

    deployable = check_deployable(ref.name, ref.version, tracking_uri=tracking_uri,
                                  as_champion=ref.alias == "champion")
    return deployable.local_copy()


@contextlib.contextmanager
def tracking_store(tracking_uri: str | None) -> Iterator[None]:
    """Point MLflow (and MLFLOW_TRACKING_URI, read by a loading model) at a store, then restore both.

    `mlflow.set_tracking_uri` also sets the environment variable; both are put back as they were,
    so that nothing after this block (a RunConfig reading the variable, say) sees the store.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils as tracking_utils

    if not tracking_uri:
        yield
        return
    previous_env = os.environ.get("MLFLOW_TRACKING_URI")
    previous_uri = tracking_utils._tracking_uri  # None when never set (no public getter for that)
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous_uri)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env


def read_applications(path: str | os.PathLike) -> pd.DataFrame:
    """Application rows from a CSV, Parquet or JSON-lines file (by suffix).

    Identifiers (application_id, enterprise_id, product) are read as text, so leading zeros and
    the 18-character credit codes survive a CSV.

    Raises
    ------
    ValueError : naming the file when it is missing, has another suffix or cannot be parsed.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: input file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=_ID_COLUMNS, keep_default_na=True)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson", ".json"):
            return pd.read_json(path, lines=suffix != ".json", dtype=_ID_COLUMNS)
    except Exception as exc:  # parsers raise many types; say which file and why
        raise ValueError(f"{path}: cannot read applications ({_first_line(exc)})") from None
    raise ValueError(f"{path}: input must be .csv, .parquet or .jsonl; got '{path.suffix}'")


def attach_features(applications: pd.DataFrame, features_path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    """Complete application rows with the feature table's columns, matched on application_id.

    Columns the input already has are kept as given (an input may restate the requested amount);
    the others come from the feature table.

    Returns
    -------
    (rows, found) : the completed rows in input order, and a bool array, False for an
    application id that the feature table does not have.
    """
    if "application_id" not in applications:
        raise ValueError("input needs an application_id column to look up features")
    features_path = Path(features_path)
    features = read_applications(features_path)
    features = features.assign(application_id=features["application_id"].astype("string"))
    wanted = ["application_id", *[c for c in features.columns if c not in applications.columns]]
    keys = applications["application_id"].astype("string")
    merged = applications.assign(application_id=keys).merge(
        features[wanted].drop_duplicates("application_id"), on="application_id", how="left", indicator=True
    )
    found = (merged.pop("_merge") == "both").to_numpy()
    merged.index = applications.index
    return merged, found


def score_applications(model, rows: pd.DataFrame, progress: bool = True) -> pd.DataFrame:
    """Decide every row with a loaded decision pyfunc, in chunks, with a progress bar.

    Returns
    -------
    DataFrame with the decision model's output columns, one row per input row, in input order.
    """
    from tqdm.auto import tqdm

    if rows.empty:
        raise ValueError("no applications to score: the input has no rows")
    parts = []
    with tqdm(total=len(rows), unit="app", desc="scoring", disable=not progress) as bar:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows.iloc[start:start + CHUNK_ROWS]
            parts.append(model.predict(chunk))
            bar.update(len(chunk))
    return pd.concat(parts, ignore_index=True)


def not_found_rows(application_ids: pd.Series, features_path: str | os.PathLike) -> pd.DataFrame:
    """Decision rows (refer, with the reason) for applications absent from the feature table."""
    return referred_rows(application_ids, f"application_id not found in the feature table {features_path}")


def referred_rows(application_ids, errors) -> pd.DataFrame:
    """Decision rows (refer, the reason in `error`) for rows that are not scored; none for no ids.

    Parameters
    ----------
    application_ids : the rows' ids, as given.
    errors : one reason for all rows, or one per row.
    """
    from creditmine.decision.model import OUTPUT_COLUMNS, REASON_COLUMNS

    n = len(application_ids)
    frame = pd.DataFrame({
        "application_id": np.asarray(application_ids, dtype=object),
        "pd": np.nan, "score": np.nan, "grade": 0, "decision": "refer",
        "credit_limit_cny": np.nan, "term_months": 0,
        **{column: "" for column in REASON_COLUMNS},
        "error": errors if isinstance(errors, str) else np.asarray(errors, dtype=object),
    }, index=range(n))
    return without_placeholders(frame[list(OUTPUT_COLUMNS)])


#: columns where 0 stands for "none" in the decision model's output
NO_VALUE_ZERO = ("grade", "term_months")


def without_placeholders(decisions: pd.DataFrame) -> pd.DataFrame:
    """Grade and term of rows that have none (0 in the model's output) as missing (nullable integers);
    columns without such a row keep their dtype."""
    out = decisions.copy()
    for column in NO_VALUE_ZERO:
        if column in out and len(out):
            values = pd.to_numeric(out[column], errors="coerce")
            none = values.isna() | (values == 0)
            if none.any():
                out[column] = values.round().astype("Int64").mask(none)
    return out


def referral_summary(decisions: pd.DataFrame, features_given: bool) -> str | None:
    """One line when most rows are referred for one reason: how many, the reason in short, and a hint.

    None when fewer than half of the rows share one reason.
    """
    if decisions.empty or "error" not in decisions:
        return None
    errors = decisions["error"].fillna("").astype(str)
    counts = errors[errors != ""].value_counts()
    if counts.empty or counts.iloc[0] * 2 <= len(decisions):
        return None
    top, n = counts.index[0], int(counts.iloc[0])
    messages = top.split("; ")
    missing = [m.removeprefix("missing field ") for m in messages if m.startswith("missing field ")]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        reason = f"the input lacks {len(missing)} column(s) the model needs ({shown})"
        hint = ("to score application ids, add --features runs/<run>/01_build_features/features.parquet"
                if not features_given else
                "the feature table lacks them too: is it from the run the model was trained on?")
    elif top.startswith("application_id not found in the feature table"):
        reason, hint = "application_id not found in the feature table", "is --features the table of these applications?"
    else:
        reason = top if len(top) <= 160 else top[:157] + "..."
        hint = "the full reason of each row is in the 'error' column"
    return f"{n:,} of {len(decisions):,} rows referred for one reason: {reason}; {hint}"


_CSV_DECIMALS = {"pd": 6, "score": 1, "credit_limit_cny": 0}


def rounded_for_csv(decisions: pd.DataFrame) -> pd.DataFrame:
    """PD to 1e-6 (6 significant digits from 10 %), score to 0.1, limits in whole yuan (as integers)."""
    out = decisions.copy()
    for column, decimals in _CSV_DECIMALS.items():
        if column not in out:
            continue
        values = pd.to_numeric(out[column], errors="coerce").round(decimals)
        out[column] = values.astype("Int64") if decimals == 0 else values
    return out


ENGINES = ("local", "spark")


def score_file(
    model_uri: str,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    tracking_uri: str | None = None,
    features_path: str | os.PathLike | None = None,
    progress: bool = True,
    engine: str = "local",
    spark_master: str | None = None,
) -> pd.DataFrame:
    """Gate, load, read, decide and write: what `creditmine score` does.

    Parameters
    ----------
    model_uri : ``models:/creditmine-<product>@champion`` (or ``/<version>``).
    input_path : applications (CSV, Parquet or JSON lines): the application fields and the
        enterprise's features, or only application ids when `features_path` is given.
    output_path : decisions, by suffix (.csv, .parquet or .jsonl).
    tracking_uri : the MLflow store.
    features_path : a feature table (stage 01's features.parquet) to complete the rows from.
    engine : "local" (this process) or "spark" (`mlflow.pyfunc.spark_udf` on `spark_master`,
        local mode by default; see `creditmine.decision.spark`): the same decisions.

    Returns
    -------
    The decisions written (DataFrame, one row per input row, in input order; no rows, but the
    output columns, for an input without rows).

    Raises
    ------
    ValueError : among others, an unknown engine, or Spark unavailable here (the message says why).
    """
    from creditmine.decision.inputs import duplicate_ids

    decide = decider(model_uri, tracking_uri, engine, spark_master, progress)
    log = getattr(decide, "log", None)  # the in-process model's decision log (None: off, or on Spark)
    if log is not None:
        log.source = "score"
    rows = read_applications(input_path)
    if rows.empty:
        decisions = referred_rows([], "")
        write_decisions(decisions, output_path)
        return decisions
    # the model sees one chunk at a time: a repeated id is found here, over the whole input
    ids = rows.get("application_id")
    errors = duplicate_ids(ids) if ids is not None else np.full(len(rows), "", dtype=object)
    if features_path is not None:
        rows, found = attach_features(rows, features_path)
        errors[(errors == "") & ~found] = f"application_id not found in the feature table {features_path}"
    scored = errors == ""
    decisions = decide(rows[scored]) if scored.any() else None
    if not scored.all():
        referred = referred_rows(ids[~scored], errors[~scored])
        if log is not None:  # referred here, never seen by the model: logged all the same
            log.record(rows[~scored].reset_index(drop=True), referred)
        referred.index = np.flatnonzero(~scored)
        if decisions is not None:
            decisions.index = np.flatnonzero(scored)
            decisions = pd.concat([decisions, referred]).sort_index()
        else:
            decisions = referred
        decisions = decisions.reset_index(drop=True)
    decisions = without_placeholders(decisions)
    write_decisions(decisions, output_path)
    if log is not None:
        log.flush()
    return decisions


def decider(model_uri: str, tracking_uri: str | None = None, engine: str = "local",
            spark_master: str | None = None, progress: bool = True):
    """A function deciding application rows with the version `model_uri` names, once the gate
    let it through: in this process, or on Spark from the gate's verified local copy."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "spark":
        from creditmine.decision.spark import decide_on_spark, spark_unavailable

        why = spark_unavailable()
        if why:
            raise ValueError(why)
        local = verified_copy(resolve_model(model_uri, tracking_uri), tracking_uri)
        return lambda rows: decide_on_spark(local, rows, tracking_uri, spark_master)
    model = load_decision_model(model_uri, tracking_uri)

    def decide(rows):
        return score_applications(model, rows, progress=progress)

    decide.log = getattr(model.unwrap_python_model(), "log_", None)  # the decision log (None: off)
    return decide


def write_decisions(decisions: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write decisions by suffix: .csv (UTF-8 with BOM, so Excel shows the Chinese reasons; figures
    rounded by `rounded_for_csv`, no grade or term written as empty), .parquet or .jsonl (full
    precision)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rounded_for_csv(without_placeholders(decisions)).to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix in (".parquet", ".pq"):
        decisions.to_parquet(path, index=False)
    elif suffix in (".jsonl", ".ndjson"):
        decisions.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        raise ValueError(f"{path}: output must be .csv, .parquet or .jsonl; got '{path.suffix}'")
    return path


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
