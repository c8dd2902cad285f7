"""`creditmine review`: the validator's commands on registered model versions.

The store is `--tracking-uri`, else the `mlflow.tracking_uri` of `--params`, else
MLFLOW_TRACKING_URI, else the project's embedded store (sqlite:///<project>/mlruns/mlflow.db).
Who acts is never an option: on the embedded store it is the operating-system user, on a team
server (an http(s) store) the account of MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD,
checked by the server. A refused action prints one line and exits with status 1.
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
        from creditmine.governance.review import ReviewRefused
        from creditmine.registry.gate import DeploymentRefused
        from creditmine.registry.http import ServerRefused
        from creditmine.registry.trail import TrailError

        try:
            return command(*args, **kwargs)
        except (ReviewRefused, DeploymentRefused, TrailError, ServerRefused) as exc:
            raise click.ClickException(f"refused: {exc}") from None
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def review() -> None:
    """Review registered model versions: show, approve or reject, promote, roll back, audit.

    \b
    creditmine review list
    creditmine review show creditmine-tax 3
    creditmine review approve creditmine-tax 3 --comment TEXT
    creditmine review promote creditmine-tax 3
    creditmine review rollback creditmine-tax --comment TEXT
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
    for tag, (said, truth) in s["tags_disagree"].items():
        click.echo(f"WARNING: tag {tag} says {said!r}, the audit trail records {truth!r} (the trail decides)")
    watch = s.get("monitoring") or {}
    if watch:
        block = "; it may not decide (monitoring.red_blocks_decisions)" if watch.get("blocks_decisions") else ""
        click.echo(f"monitoring: {str(watch['verdict']).upper()} as of {watch.get('as_of')} (audit #{watch.get('seq')}, "
                   f"{watch.get('actor')}){block}" + (f"; report {watch['report']}" if watch.get("report") else ""))
        for line in watch.get("why") or []:
            click.echo(f"  {line}")
    else:
        click.echo("monitoring: no monitoring verdict yet (creditmine monitor)")
    if s["refused_attempts"]:
        click.echo(f"refused attempts on this version: {s['refused_attempts']} (creditmine review log {model} {version})")
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
@click.option("--comment", required=True, help="Why (kept in the audit trail).")
@_store_options
@_refusals
def approve(model, version, comment, tracking_uri, params_file) -> None:
    """Approve MODEL VERSION for deployment (not its developer; not red; artifacts intact)."""
    entry = _actions(tracking_uri, params_file).approve(model, version, comment)
    click.echo(f"approved {model} version {version} as {entry['actor']} (audit #{entry['seq']})")


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--comment", required=True, help="Why (kept in the audit trail).")
@_store_options
@_refusals
def reject(model, version, comment, tracking_uri, params_file) -> None:
    """Reject MODEL VERSION."""
    entry = _actions(tracking_uri, params_file).reject(model, version, comment)
    click.echo(f"rejected {model} version {version} as {entry['actor']} (audit #{entry['seq']})")


@review.command()
@click.argument("model")
@click.argument("version")
@click.option("--comment", default="", help="Why.")
@_store_options
@_refusals
def promote(model, version, comment, tracking_uri, params_file) -> None:
    """Make the approved MODEL VERSION the champion (the old one becomes previous-champion)."""
    entry = _actions(tracking_uri, params_file).promote(model, version, comment)
    previous = entry["details"].get("previous_champion")
    click.echo(f"{model} version {version} is the champion" + (f"; version {previous} is previous-champion" if previous else "")
               + f" (as {entry['actor']}, audit #{entry['seq']})")


@review.command()
@click.argument("model")
@click.argument("version", required=False)
@click.option("--comment", default="", help="Why.")
@_store_options
@_refusals
def rollback(model, version, comment, tracking_uri, params_file) -> None:
    """Give the champion alias of MODEL back to its previous champion (VERSION: the champion to replace)."""
    entry = _actions(tracking_uri, params_file).rollback(model, comment, version=version)
    click.echo(f"rolled back {model}: version {entry['details']['champion']} is the champion again "
               f"(version {entry['details']['rolled_back']} withdrawn; as {entry['actor']}, audit #{entry['seq']})")


@review.command()
@click.argument("model", required=False)
@click.argument("version", required=False)
@_store_options
@_refusals
def verify(model, version, tracking_uri, params_file) -> None:
    """Verify the audit trail's hash chain (and, for MODEL VERSION, its tags and artifacts)."""
    from creditmine.governance.review import verify as do
    from creditmine.registry.trail_store import open_trail

    uri = store_uri(tracking_uri, params_file)
    problems = do(uri, model, version)
    trail = open_trail(uri)
    if problems:
        for line in problems:
            click.echo(f"FAIL {line}", err=True)
        raise click.ClickException(f"verification failed: {len(problems)} problem(s) in the audit trail {trail}")
    click.echo(f"OK: audit trail {trail} intact: {len(trail.entries())} entries, chain, signatures and anchors"
               + (f"; {model} version {version} artifacts match their manifest" if version else ""))


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


def _actions(tracking_uri: str | None, params_file: str | None):
    from creditmine.governance.review import actions

    params = _params(params_file)
    return actions(store_uri(tracking_uri, params_file), params.mlflow if params is not None else None)
