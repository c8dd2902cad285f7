"""The team server: PostgreSQL and MLflow's tracking server with authentication, on loopback, with
the review rules running inside it (`app`), a guard against review-state writes over HTTP
(`guard`), the append-only, signed audit trail in PostgreSQL (`trail_db`), and the commands that
start, inspect and stop it (`server`, `creditmine team`)."""
