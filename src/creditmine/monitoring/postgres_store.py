"""The decision log in PostgreSQL (team mode): table `decisions.log`, one row per decision.

Selected with ``CREDITMINE_DECISION_STORE=postgresql://<role>:<password>@<host>:<port>/<database>``
(`creditmine.monitoring.store.open_store`). The columns are the decision log's
(`creditmine.monitoring.log.DECISION_COLUMNS`), the reasons as two text arrays, `month` (the
application month, else the decision's) and `inputs`, the features used, as JSONB. Appends use COPY
in one transaction per batch; the table is created on first use when the role may (`SCHEMA_SQL`
gives the statements for an administrator otherwise). Give the writing role only INSERT and SELECT:
like the audit trail, the log is written, never changed.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmine.monitoring.store import LoggedDecisions, _months, to_frames

__all__ = ["PostgresDecisionStore", "SCHEMA_SQL", "TABLE"]

TABLE = "decisions.log"
_REASONS_EN = [f"reason_{i}_en" for i in range(1, 5)]
_REASONS_ZH = [f"reason_{i}_zh" for i in range(1, 5)]
_COLUMNS = ("decided_at", "applied_at", "month", "application_id", "enterprise_id", "product", "model", "version",
            "source", "batch_id", "input_digest", "pd", "score", "grade", "decision", "credit_limit_cny",
            "term_months", "reasons_en", "reasons_zh", "error", "raw_input", "inputs")

SCHEMA_SQL = f"""
CREATE SCHEMA IF NOT EXISTS decisions;
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGSERIAL PRIMARY KEY,
    decided_at TIMESTAMPTZ NOT NULL,
    applied_at DATE,
    month TEXT NOT NULL,
    application_id TEXT,
    enterprise_id TEXT,
    product TEXT,
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    source TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    pd DOUBLE PRECISION,
    score DOUBLE PRECISION,
    grade INTEGER NOT NULL,
    decision TEXT NOT NULL,
    credit_limit_cny DOUBLE PRECISION,
    term_months INTEGER,
    reasons_en TEXT[] NOT NULL,
    reasons_zh TEXT[] NOT NULL,
    error TEXT NOT NULL,
    raw_input TEXT NOT NULL,
    inputs JSONB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS log_model_version_month ON {TABLE} (model, version, month);
"""


class PostgresDecisionStore:
    """The decision log as rows of `decisions.log` in the database `dsn` names."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._ready = False

    def __str__(self) -> str:
        from urllib.parse import urlparse

        parsed = urlparse(self.dsn)
        return f"postgresql://{parsed.hostname}:{parsed.port or 5432}{parsed.path} ({TABLE})"

    def _connect(self):
        import psycopg

        connection = psycopg.connect(self.dsn)
        if not self._ready:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", (TABLE,))
                if cursor.fetchone()[0] is None:
                    cursor.execute(SCHEMA_SQL)
            connection.commit()
            self._ready = True
        return connection

    def append(self, table: pa.Table) -> int:
        """Insert decision log rows (`creditmine.monitoring.log_rows.build_batch`) in one transaction."""
        if table.num_rows == 0:
            return 0
        months = _months(table).to_pylist()
        frame = table.drop_columns(["inputs"]).to_pandas(date_as_object=True)
        inputs = table["inputs"].to_pylist()
        with self._connect() as connection, connection.cursor() as cursor:
            with cursor.copy(f"COPY {TABLE} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for i, row in enumerate(frame.itertuples(index=False)):
                    values = row._asdict()
                    copy.write_row((
                        values["decided_at"].to_pydatetime(), _none(values["applied_at"]), months[i],
                        values["application_id"], values["enterprise_id"], values["product"], values["model"],
                        values["version"], values["source"], values["batch_id"], values["input_digest"],
                        _number(values["pd"]), _number(values["score"]), int(values["grade"]), values["decision"],
                        _number(values["credit_limit_cny"]), int(values["term_months"]),
                        [values[c] or "" for c in _REASONS_EN], [values[c] or "" for c in _REASONS_ZH],
                        values["error"] or "", values["raw_input"] or "",
                        json.dumps({k: _number(v) if isinstance(v, float) else v for k, v in inputs[i].items()},
                                   ensure_ascii=False),
                    ))
        return table.num_rows

    def read(self, model: str, version, until: date | None = None, since: date | None = None) -> LoggedDecisions:
        """The decisions of `model` `version` whose month lies in [since, until]."""
        query = (f"SELECT {', '.join(c for c in _COLUMNS if c != 'month')} FROM {TABLE} "
                 "WHERE model = %s AND version = %s")
        params: list = [model, str(version)]
        if until is not None:
            query += " AND month <= %s"
            params.append(f"{until:%Y-%m}")
        if since is not None:
            query += " AND month >= %s"
            params.append(f"{since:%Y-%m}")
        with self._connect() as connection, connection.cursor() as cursor:
            cursor.execute(query + " ORDER BY id", params)
            rows = cursor.fetchall()
        if not rows:
            from creditmine.monitoring.store import _empty

            return _empty()
        names = [c for c in _COLUMNS if c != "month"]
        frame = pd.DataFrame(rows, columns=names)
        columns = {
            "decided_at": pa.array(pd.to_datetime(frame["decided_at"], utc=True), pa.timestamp("ms", tz="UTC")),
            "applied_at": pa.array(frame["applied_at"], pa.date32()),
        }
        for name in ("application_id", "enterprise_id", "product", "model", "version", "source", "batch_id",
                     "input_digest"):
            columns[name] = pa.array(frame[name], pa.string())
        for name in ("pd", "score", "credit_limit_cny"):
            columns[name] = pa.array(frame[name].astype(float))
        columns["grade"] = pa.array(frame["grade"].astype(np.int64))
        columns["decision"] = pa.array(frame["decision"], pa.string())
        columns["term_months"] = pa.array(frame["term_months"].fillna(0).astype(np.int64))
        for i in range(4):
            columns[_REASONS_EN[i]] = pa.array([r[i] for r in frame["reasons_en"]], pa.string())
        for i in range(4):
            columns[_REASONS_ZH[i]] = pa.array([r[i] for r in frame["reasons_zh"]], pa.string())
        columns["error"] = pa.array(frame["error"], pa.string())
        columns["raw_input"] = pa.array(frame["raw_input"], pa.string())
        inputs = pd.DataFrame(list(frame["inputs"]))
        fields = [pa.array(inputs[c].astype(object).where(inputs[c].notna(), None).tolist()) for c in inputs.columns]
        columns["inputs"] = pa.StructArray.from_arrays(fields, names=list(inputs.columns))
        return to_frames(pa.table(columns))


def _number(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _none(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT else value
