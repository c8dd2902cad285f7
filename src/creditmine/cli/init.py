"""`creditmine init`: scaffold a project around one tabular data file.

Writes a params file, a product file and NEXT.md (what to check and fill in before the first run);
the notebooks come from the installed package, so the folder needs nothing else.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

__all__ = ["init", "scaffold"]

_TARGET_HINTS = ("target", "default", "bad", "label", "status", "creditability", "default_12m", "y")
_AMOUNT_HINTS = ("requested_amount", "loan_amount", "loan_amnt", "credit_amount", "amount", "limit_bal")
_TERM_HINTS = ("term_months", "term", "duration_in_month", "duration", "tenor")
_ID_HINTS = ("application_id", "id", "loan_id", "customer_id")


def _sample(path: Path):
    """The file's first rows (enough to see its columns and the target's values)."""
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(path)
        return file.read_row_group(0).to_pandas() if file.num_row_groups else file.read().to_pandas()
    if path.suffix.lower() not in (".csv", ".txt"):
        raise click.ClickException(f"{path}: a CSV or Parquet file is needed (got '{path.suffix}')")
    return pd.read_csv(path, nrows=50_000, dtype=str, keep_default_na=False)


def _pick(columns, hints) -> str | None:
    lower = {c.lower(): c for c in columns}
    for hint in hints:
        if hint in lower:
            return lower[hint]
    return None


def _bad_values(frame, target: str, given: tuple[str, ...]) -> list:
    values = sorted({str(v).strip() for v in frame[target] if str(v).strip() != ""})
    if given:
        unknown = [v for v in given if v not in values]
        if unknown:
            raise click.ClickException(
                f"--bad {', '.join(unknown)}: not a value of column '{target}' in the first rows "
                f"(values: {', '.join(values[:10])})")
        return [_typed(v) for v in given]
    if set(values) <= {"0", "1"}:
        return [1]
    named = [v for v in values if v.lower() in ("bad", "default", "defaulted", "charged off", "yes", "true")]
    if named:
        return named
    raise click.ClickException(
        f"which values of '{target}' mean default? Give them with --bad (values: {', '.join(values[:10])}"
        + (", ..." if len(values) > 10 else "") + ")")


def _typed(value: str):
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def _yaml_text(value) -> str:
    """A scalar or list in YAML's flow style (JSON is a subset of YAML)."""
    import json

    return json.dumps(value, ensure_ascii=False)


def scaffold(directory: Path, data: Path, name: str | None = None, target: str | None = None,
             bad: tuple[str, ...] = (), force: bool = False) -> list[Path]:
    """Write params/<name>.yaml, params/products/<name>.yaml and NEXT.md into `directory`.

    Returns the files written. Raises click.ClickException (one line) when the data file cannot be
    read, the target is ambiguous, or a file exists (unless `force`).
    """
    directory, data = Path(directory), Path(data)
    if not data.is_file():
        raise click.ClickException(f"{data}: data file not found")
    frame = _sample(data)
    columns = [str(c) for c in frame.columns]
    name = name or re.sub(r"[^a-z0-9_]+", "_", data.stem.lower()).strip("_") or "mydata"
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise click.ClickException(f"--name {name}: use lower-case letters, digits and underscores")
    target = target or _pick(columns, _TARGET_HINTS)
    if target is None:
        raise click.ClickException(f"{data}: name the target column with --target (columns: {', '.join(columns[:20])})")
    if target not in columns:
        raise click.ClickException(f"--target {target}: no such column in {data} (columns: {', '.join(columns[:20])})")
    bad_values = _bad_values(frame, target, bad)
    amount, term = _pick(columns, _AMOUNT_HINTS), _pick(columns, _TERM_HINTS)
    identifier = _pick(columns, _ID_HINTS)
    dates = [c for c in columns if "date" in c.lower()]

    directory.mkdir(parents=True, exist_ok=True)
    try:
        data_path = data.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        data_path = data.resolve().as_posix()
    params_file = directory / "params" / f"{name}.yaml"
    product_file = directory / "params" / "products" / f"{name}.yaml"
    notes_file = directory / "NEXT.md"
    files = (params_file, product_file, notes_file)
    existing = [str(f) for f in files if f.exists()]
    if existing and not force:
        raise click.ClickException(f"{', '.join(existing)} already exist: pass --force to overwrite")

    tabular = [f"    path: {_yaml_text(data_path)}",
               f"    target_column: {_yaml_text(target)}",
               f"    bad_values: {_yaml_text(bad_values)}"]
    tabular.append(f"    id_column: {_yaml_text(identifier)}" if identifier else
                   "    # id_column: the application id (the row number when absent)")
    tabular.append(f"    amount_column: {_yaml_text(amount)}" if amount else
                   "    # amount_column: the requested amount, so that limits work (every limit is 0 without it)")
    tabular.append(f"    term_column: {_yaml_text(term)}" if term else "    # term_column: the term in months")
    tabular.append(f"    # date_column: {dates[0]}   # an application date gives an out-of-time split"
                   if dates else "    # date_column: an application date gives an out-of-time split (random without)")
    tabular += ["    # exclude_columns: []   # ids, notes and anything known only after the loan was granted",
                "    # population: who the model is for, in a few words (the model card says it)"]
    params_text = "\n".join([
        f"# Scaffolded by `creditmine init` from {data.name}: read NEXT.md, then",
        f"#   creditmine run --params params/{name}.yaml",
        f"name: {name}",
        "seed: 42",
        f"products: [{name}]",
        "",
        "data:",
        "  source: tabular",
        "  tabular:",
        *tabular,
        "",
    ])
    product_text = "\n".join([
        f"# Every application of {data.name}, with the default policy (grades 1-5 approved, 6-7 referred).",
        f"name: {name}",
        f"title_en: {_yaml_text(data.stem)}",
        "application_products: []",
        "policy:",
        "  approve_grades: [1, 2, 3, 4, 5]",
        "  refer_grades: [6, 7]",
        "  default_limit_rule: {base: requested_amount, share: 1.0}",
        "",
    ])
    guessed = [f"- target column `{target}`, bad values {bad_values}"]
    guessed += [f"- requested amount `{amount}`"] if amount else ["- no requested-amount column found: limits will be 0"]
    guessed += [f"- term `{term}`"] if term else []
    guessed += [f"- application id `{identifier}`"] if identifier else []
    notes_text = "\n".join([
        f"# Next steps for `{name}`",
        "",
        f"`creditmine init` read the first rows of `{data_path}` ({len(columns)} columns) and guessed:",
        "",
        *guessed,
        "",
        f"Before the first run, in `params/{name}.yaml`:",
        "",
        "1. Check the guesses above. Rows whose target is neither bad nor (with `good_values`) good are",
        "   kept unlabelled and counted.",
        "2. Write `population` (uncomment it): who the model is for. The model card and the reports",
        "   quote it.",
        "3. List in `exclude_columns` what is known only after the loan was granted (the rate charged,",
        "   the grade given, amounts repaid). The leakage screen flags a feature whose AUC alone is",
        "   implausibly high, but it cannot know your data's history.",
        "4. Give a `date_column` if the data has one: validation is then out of time, not random.",
        f"5. Adjust the policy in `params/products/{name}.yaml` (grades approved and referred, limits).",
        "",
        "Then run the whole pipeline (the notebooks come with creditmine):",
        "",
        f"    creditmine run --params params/{name}.yaml",
        "",
    ])
    params_file.parent.mkdir(parents=True, exist_ok=True)
    product_file.parent.mkdir(parents=True, exist_ok=True)
    params_file.write_text(params_text, encoding="utf-8")
    product_file.write_text(product_text, encoding="utf-8")
    notes_file.write_text(notes_text, encoding="utf-8")
    return list(files)


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), help="CSV or Parquet, one row per application.")
@click.option("--name", default=None, help="Names the params, the product and the runs; from the file name by default.")
@click.option("--target", default=None, help="The outcome column; guessed from its name when omitted.")
@click.option("--bad", multiple=True, help="A value of the target that means default (repeat for several).")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init(directory: str, data: str, name: str | None, target: str | None, bad: tuple[str, ...], force: bool) -> None:
    """Scaffold a project in DIRECTORY for a tabular data file: params, a product, and NEXT.md."""
    files = scaffold(Path(directory), Path(data), name, target, bad, force)
    for file in files:
        click.echo(f"wrote {os.path.relpath(file)}")
    click.echo(f"next: read {os.path.relpath(files[2])}, then "
               f"cd {directory} && creditmine run --params params/{files[0].stem}.yaml")
