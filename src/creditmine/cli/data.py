"""`creditmine generate` and `creditmine ingest`: the data stage from the command line."""

from __future__ import annotations

import click


@click.command()
@click.option("--enterprises", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Number of enterprises to simulate.")
@click.option("--seed", type=int, default=42, show_default=True, help="Master seed; same seed, same bytes.")
@click.option("--start", default="2021-01", show_default=True, help="First month of the data window, YYYY-MM.")
@click.option("--end", default="2024-12", show_default=True, help="Last month of the data window, YYYY-MM.")
@click.option("--chunk", "chunk_enterprises", type=click.IntRange(min=1), default=5_000, show_default=True,
              help="Enterprises generated (and held in memory) per chunk.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def generate(enterprises: int, seed: int, start: str, end: str, chunk_enterprises: int, out_dir: str, quiet: bool) -> None:
    """Generate the synthetic government-data world as Parquet tables in OUT.

    Writes enterprises, tax_filings, tax_credit_ratings, invoices, electricity, customs,
    procurement_awards, applications and the separate ground_truth (true PD per application,
    never read by a pipeline stage), then a _SUCCESS marker.
    """
    from pydantic import ValidationError

    from creditmine.config.data import SyntheticParams
    from creditmine.data import synthetic

    try:
        params = SyntheticParams(enterprises=enterprises, start=start, end=end, chunk_enterprises=chunk_enterprises)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'window'}: {e['msg']}" for e in exc.errors())
        raise click.ClickException(f"invalid generation settings: {problems}") from None
    try:
        summary = synthetic.generate(params, seed, out_dir, progress=not quiet)
    except OSError as exc:
        raise click.ClickException(f"{out_dir}: cannot write ({exc.strerror or exc})") from None
    width = max(len(name) for name in summary.rows)
    for name, rows in summary.rows.items():
        click.echo(f"{name:<{width}}  {rows:>12,}")
    click.echo(f"wrote {summary.out_dir} in {summary.seconds:.1f} s")


@click.command()
@click.option("--source", "source_dir", required=True, type=click.Path(file_okay=False),
              help="Folder with one CSV or Parquet file per table (<table>.csv or <table>.parquet).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the accepted tables, the quarantine and the deduplication files.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="End of the data window: records dated after it are quarantined. By default the "
                   "latest knowledge date in the data (filed_at, issued_at, applied_at, ...), leaving "
                   "out stray dates more than a quarter past the rest.")
@click.option("--max-quarantine-share", "max_share", type=click.FloatRange(0, 1), default=None, metavar="SHARE",
              help="Fail when a table has more than this share of its rows quarantined (0..1; "
                   "default 0.05, creditmine.data.ingest.MAX_QUARANTINE_SHARE).")
def ingest(source_dir: str, out_dir: str, as_of: str | None, max_share: float | None) -> None:
    """Validate your own tables against the data model; write accepted rows and quarantine the rest.

    Prints the end of the data window and a reconciliation per table (read = accepted +
    deduplicated + quarantined). Identical duplicate rows are kept once; rows sharing a key but
    differing elsewhere are all quarantined as key conflicts. Exits non-zero, naming the file and
    column, when a file is missing, unreadable, or lacks or mistypes a column; and, naming the
    table, the share and the most common reason, when a table has more than the maximum share of
    its rows quarantined (its files are written then, but not _SUCCESS).
    """
    from datetime import date

    from creditmine.data import ingest as ingestion

    try:
        window_end = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise click.ClickException(f"--as-of: expected a date YYYY-MM-DD, got {as_of!r}") from None
    share = ingestion.MAX_QUARANTINE_SHARE if max_share is None else max_share
    try:
        report = ingestion.ingest(source_dir, out_dir, as_of=window_end, max_quarantine_share=share)
    except ingestion.QuarantineLimitExceeded as exc:
        _echo_report(exc.report, out_dir)
        raise click.ClickException(str(exc)) from None
    except ingestion.IngestError as exc:
        raise click.ClickException(str(exc)) from None
    _echo_report(report, out_dir)


def _echo_report(report, out_dir: str) -> None:
    click.echo(report.window.describe())
    click.echo(report.to_text())
    if report.deduplicated_total:
        click.echo(f"{report.deduplicated_total:,} identical duplicate rows removed (one copy kept): "
                   f"see {out_dir}/<table>.deduplicated.csv")
    if report.quarantined_total:
        conflicts = (f", {report.key_conflicts_total:,} of them sharing a key with a different row"
                     if report.key_conflicts_total else "")
        click.echo(f"{report.quarantined_total:,} rows quarantined{conflicts}: see {out_dir}/<table>.quarantine.csv")
