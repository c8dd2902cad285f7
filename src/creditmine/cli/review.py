"""`creditmine review`: the validator's commands on registered model versions.

The store is `--tracking-uri`, else the `mlflow.tracking_uri` of `--params`, else
MLFLOW_TRACKING_URI, else the project's embedded store (sqlite:///<project>/mlruns/mlflow.db).
A refused action prints one line and exits with status 1.
"""

from __future__ import annotations

import functools
import json
import os

import click

from creditmine.cli.store import store_uri


def _store_options(command):
    command = click.option("--tracking-uri", default=None, help="MLflow tracking URI of the store.")(command)
    command = click.option("--params", "params_file", default=None, type=click.Path(dir_okay=False),
                           help="Params YAML whose mlflow section names the store.")(command)
    return command


def _refusals(command):
    """Turn refusals and store errors into a one-line ClickException (exit status 1)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from creditmine.registry.audit import AuditError
        from creditmine.registry.gate import DeploymentRefused
        from creditmine.governance.review import ReviewRefused

        try:
            return command(*args, **kwargs)
        except (ReviewRefused, DeploymentRefused, AuditError) as exc:
            raise click.ClickException(f"refused: {exc}") from None
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def review() -> None:
    """Review registered model versions: show, approve or reject, promote, roll back, audit.

    \b
    creditmine review list
    creditmine review show creditmine-tax 3
    creditmine review approve creditmine-tax 3 --reviewer NAME --comment TEXT
    creditmine review promote creditmine-tax 3 --reviewer NAME
    creditmine review rollback creditmine-tax --reviewer NAME --comment TEXT
    creditmine review verify [creditmine-tax [3]]
    creditmine review log [creditmine-tax [3]]
    """
    # MLflow's per-download progress bars would bury the one-line answers
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@review.command("list")
@click.argument("model", required=False)
@_store_options
@_refusals
def list_(model, tracking_uri, params_file) -> None:
    """List the versions of MODEL (or of every registered model) with state, verdict and aliases."""
    from creditmine.governance.review import list_versions

    rows = list_versions(store_uri(tracking_uri, params_file), model)
    if not rows:
        click.echo("no registered model versions")
        return
    header = ("model", "version", "state", "verdict", "developer", "reviewer", "aliases")
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    click.echo("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        click.echo("  ".join(str(r[h]).ljust(w) for h, w in zip(header, widths)))


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@_store_options
@_refusals
def show(model, version, as_json, tracking_uri, params_file) -> None:
    """Show MODEL VERSION: verdict, key metrics with lights, comparison with the champion, review pack."""
    from creditmine.governance.review import show as show_version

    s = show_version(store_uri(tracking_uri, params_file), model, version, _params(params_file))
    if as_json:
        click.echo(json.dumps(s, indent=1, default=str))
        return
    click.echo(f"{s['model']} version {s['version']}  state: {s['state']}  verdict: {s['verdict'].upper()}")
    click.echo(f"developer: {s['developer']}  reviewer: {s['reviewer'] or '-'}  aliases: {', '.join(s['aliases']) or '-'}")
    click.echo(f"run: {s['run_id']}  git: {s['git_commit'][:12]} (dirty: {s['git_dirty']})")
    click.echo("metrics:")
    for m in s["metrics"][:25]:
        click.echo(f"  {m['metric']:<40} {m['value']:>12.4f}  {m['light']}")
    if len(s["metrics"]) > 25:
        click.echo(f"  ... {len(s['metrics']) - 25} more in the review pack")
    c = s["comparison"]
    click.echo(f"champion: {c.get('champion') if c.get('champion') is not None else '-'}  {c.get('note', '')}")
    for m in c.get("metrics", [])[:10]:
        click.echo(f"  {m['metric']:<40} {m['candidate']:>10.4f} vs {m['champion']:>10.4f}  delta {m['delta']:+.4f}")
    if "psi" in c:
        click.echo(f"  scores on {c['n_common']} common applications: PSI {c['psi']:.4f}; "
                   f"swap set {100 * c['swap_share']:.2f}% (in {c['swap_in']}, out {c['swap_out']})")
    click.echo(f"review pack: {s['review_pack']}")


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--reviewer", required=True, help="Who approves (must not be the developer).")
@click.option("--comment", required=True, help="Why.")
@_store_options
@_refusals
def approve(model, version, reviewer, comment, tracking_uri, params_file) -> None:
    """Approve MODEL VERSION for deployment (four eyes; not red; artifacts intact)."""
    from creditmine.governance.review import approve as do

    entry = do(store_uri(tracking_uri, params_file), model, version, reviewer, comment)
    click.echo(f"approved {model} version {version} by {reviewer} (audit #{entry['seq']})")


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--reviewer", required=True, help="Who rejects.")
@click.option("--comment", required=True, help="Why.")
@_store_options
@_refusals
def reject(model, version, reviewer, comment, tracking_uri, params_file) -> None:
    """Reject MODEL VERSION."""
    from creditmine.governance.review import reject as do

    entry = do(store_uri(tracking_uri, params_file), model, version, reviewer, comment)
    click.echo(f"rejected {model} version {version} by {reviewer} (audit #{entry['seq']})")


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--reviewer", default=None, help="Who promotes; CREDITMINE_REVIEWER or the OS user by default.")
@click.option("--comment", default="", help="Why.")
@_store_options
@_refusals
def promote(model, version, reviewer, comment, tracking_uri, params_file) -> None:
    """Make the approved MODEL VERSION the champion (the old one becomes previous-champion)."""
    from creditmine.governance.review import promote as do

    entry = do(store_uri(tracking_uri, params_file), model, version, _actor(reviewer), comment)
    previous = entry["details"].get("previous_champion")
    click.echo(f"{model} version {version} is the champion" + (f"; version {previous} is previous-champion" if previous else ""))


@review.command()
@click.argument("model")
@click.argument("version", required=False)
@click.option("--reviewer", default=None, help="Who rolls back; CREDITMINE_REVIEWER or the OS user by default.")
@click.option("--comment", default="", help="Why.")
@_store_options
@_refusals
def rollback(model, version, reviewer, comment, tracking_uri, params_file) -> None:
    """Give the champion alias of MODEL back to its previous champion (VERSION: the champion to replace)."""
    from creditmine.governance.review import rollback as do

    entry = do(store_uri(tracking_uri, params_file), model, _actor(reviewer), comment, version=version)
    click.echo(f"rolled back {model}: version {entry['details']['champion']} is the champion again "
               f"(version {entry['details']['rolled_back']} withdrawn)")


@review.command()
@click.argument("model", required=False)
@click.argument("version", required=False)
@_store_options
@_refusals
def verify(model, version, tracking_uri, params_file) -> None:
    """Verify the audit trail's hash chain (and, for MODEL VERSION, its tags and artifacts)."""
    from creditmine.registry.audit import audit_path
    from creditmine.governance.review import verify as do

    uri = store_uri(tracking_uri, params_file)
    problems = do(uri, model, version)
    if problems:
        for line in problems:
            click.echo(f"FAIL {line}", err=True)
        raise click.ClickException(f"verification failed: {len(problems)} problem(s) in {audit_path(uri)}")
    click.echo(f"OK: audit trail {audit_path(uri)} intact" + (f"; {model} version {version} artifacts match their manifest" if version else ""))


@review.command("log")
@click.argument("model", required=False)
@click.argument("version", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON lines.")
@_store_options
@_refusals
def log_(model, version, as_json, tracking_uri, params_file) -> None:
    """Print the audit trail (of MODEL, of MODEL VERSION)."""
    from creditmine.governance.review import trail

    for e in trail(store_uri(tracking_uri, params_file), model, version):
        if as_json:
            click.echo(json.dumps({k: v for k, v in e.items() if k != "_line"}, ensure_ascii=False))
        else:
            target = f"{e['model']} v{e['version']}" if e.get("version") else e["model"]
            click.echo(f"#{e['seq']:<4} {e['time']}  {e['action']:<15} {target:<28} {e['actor']:<16} {e.get('comment', '')}  [{e['hash'][:12]}]")


def _params(params_file: str | None):
    """The params of --params (their mlflow and validation sections shape the comparison), or None."""
    if not params_file:
        return None
    from creditmine import config

    return config.load(params_file).params


def _actor(reviewer: str | None) -> str:
    import getpass

    return reviewer or os.environ.get("CREDITMINE_REVIEWER") or getpass.getuser()
