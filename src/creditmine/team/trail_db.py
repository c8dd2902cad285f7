"""The team server's audit trail: an append-only PostgreSQL table, hash-chained and signed.

The table belongs to a role nobody logs in as (`creditmine_owner`); the server writes through
`creditmine_trail`, which holds only SELECT and INSERT on it, and a trigger refuses UPDATE, DELETE
and TRUNCATE from anyone, its owner included. Each entry is kept as the exact JSON text that was
signed. Appends take a transaction-scoped advisory lock, read the chain, run the caller's checks
and insert, so a review rule's check and the entry recording its outcome are one transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from creditmine.registry import keys
from creditmine.registry.trail import TrailError, new_entry
from creditmine.registry.trail_store import Transaction

__all__ = ["SCHEMA_SQL", "TABLE", "PostgresTrail"]

TABLE = "audit.trail"
_LOCK_KEY = 7_446_512_093  # the advisory lock of the trail: one writer at a time

SCHEMA_SQL = f"""
CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION creditmine_owner;
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq BIGINT PRIMARY KEY,
    model TEXT,
    version TEXT,
    action TEXT NOT NULL,
    entry TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE {TABLE} OWNER TO creditmine_owner;
CREATE OR REPLACE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit.trail is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
ALTER FUNCTION audit.refuse_change() OWNER TO creditmine_owner;
DROP TRIGGER IF EXISTS trail_no_change ON {TABLE};
CREATE TRIGGER trail_no_change BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
DROP TRIGGER IF EXISTS trail_no_truncate ON {TABLE};
CREATE TRIGGER trail_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
REVOKE ALL ON {TABLE} FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO creditmine_trail;
GRANT SELECT, INSERT ON {TABLE} TO creditmine_trail;
"""


class PostgresTrail:
    """The trail in PostgreSQL, written with the server's key.

    Parameters
    ----------
    dsn : libpq connection string of the `creditmine_trail` role.
    key_folder : where the server's private key is (made on first use, readable by its owner only).
    """

    def __init__(self, dsn: str, key_folder):
        self.dsn = dsn
        self.key_folder = key_folder

    def __str__(self) -> str:
        return f"PostgreSQL table {TABLE}"

    def entries(self) -> list[dict]:
        with self._connect() as conn:
            return _read(conn)

    def public_keys(self) -> list:
        return [keys.load_or_create_private_key(self.key_folder).public_key()]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        signer = keys.load_or_create_private_key(self.key_folder)
        conn = self._connect()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))

            def write(previous, action, model, version, actor, comment, details):
                entry = new_entry(previous, action, model, version, actor, comment, details, signer)
                conn.execute(
                    f"INSERT INTO {TABLE} (seq, model, version, action, entry, hash) VALUES (%s, %s, %s, %s, %s, %s)",
                    (entry["seq"], model, entry["version"], action, json.dumps(entry, ensure_ascii=False, sort_keys=True),
                     entry["hash"]),
                )
                return entry

            yield Transaction(_read(conn), write)
        except BaseException as exc:
            # a refusal is a normal outcome: the entry recording the refused attempt stays
            if getattr(exc, "keep_trail", False):
                conn.commit()
            else:
                conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            conn.close()

    def _connect(self):
        import psycopg

        try:
            return psycopg.connect(self.dsn, autocommit=False, connect_timeout=10)
        except psycopg.Error as exc:
            raise TrailError(f"{self}: cannot connect ({str(exc).strip().splitlines()[0]})") from None


def _read(conn) -> list[dict]:
    rows = conn.execute(f"SELECT seq, entry FROM {TABLE} ORDER BY seq").fetchall()
    entries = []
    for seq, text in rows:
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            entry = {"seq": seq, "unreadable": text[:80]}
        entries.append(entry)
    return entries
