"""The review pack: one self-contained HTML file per model version, readable offline.

It holds the verdict, the validation metrics with their traffic lights, the explanations (figures of
explain.json and the SHAP plots), the model card and the comparison with the champion. Every image
is embedded as a base64 data URI and the style sheet is inline, so the file can be mailed or
archived and opened without the tracking store or a network.
"""

from __future__ import annotations

import base64
import html
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

_LIGHT_COLOURS = {"green": "#2e7d32", "amber": "#ef8f00", "red": "#c62828"}
_IMG = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>""", re.IGNORECASE)


def write_review_pack(client, summary: dict, out_dir: str | Path) -> Path:
    """Write ``<out_dir>/<model>/v<version>.html`` from a `creditmine.governance.review.show` summary.

    Parameters
    ----------
    client : MlflowClient on the store holding the version's run.
    summary : the dict built by `show` (model, version, state, verdict, metrics, comparison, ...).
    out_dir : folder of the packs (``mlruns/review_packs`` by default).

    Returns
    -------
    Path of the HTML file.
    """
    from creditmine.registry.store import download_run_artifacts

    out = Path(out_dir) / summary["model"] / f"v{summary['version']}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="creditmine-pack-") as tmp:
        tmp = Path(tmp)
        explain_dir = download_run_artifacts(client, summary["run_id"], "03_explain", tmp / "e")
        validate_dir = download_run_artifacts(client, summary["run_id"], "04_validate", tmp / "v")
        body = "\n".join([
            _header(summary),
            _validation_section(summary, validate_dir),
            _explanation_section(explain_dir),
            _model_card_section(validate_dir),
            _comparison_section(summary.get("comparison") or {}),
            _lineage_section(summary),
        ])
    out.write_text(_page(f"{summary['model']} v{summary['version']} — review pack", body), encoding="utf-8")
    return out


# -- sections ------------------------------------------------------------------------------------

def _header(s: dict) -> str:
    verdict = str(s.get("verdict") or "unknown")
    colour = _LIGHT_COLOURS.get(verdict.lower(), "#555")
    return (
        f"<h1>{_e(s['model'])} — version {s['version']}</h1>"
        f'<p id="verdict" class="verdict" style="background:{colour}">Validation verdict: {_e(verdict.upper())}</p>'
        f"<table class='facts'><tr><th>review state</th><td>{_e(s.get('state'))}</td></tr>"
        f"<tr><th>developer</th><td>{_e(s.get('developer'))}</td></tr>"
        f"<tr><th>reviewer</th><td>{_e(s.get('reviewer') or '—')}</td></tr>"
        f"<tr><th>aliases</th><td>{_e(', '.join(s.get('aliases') or []) or '—')}</td></tr>"
        f"<tr><th>pack written</th><td>{datetime.now(UTC).isoformat(timespec='seconds')}</td></tr></table>"
    )


def _validation_section(s: dict, validate_dir: Path | None) -> str:
    values = {m["metric"]: m["value"] for m in s.get("metrics", [])}
    lit = "".join(
        f"<tr><td>{_e(test)}</td><td class='num'>{_number(values.get(f'light.{test}'))}</td><td>{_light(light)}</td></tr>"
        for test, light in sorted((s.get("lights") or {}).items())
    )
    rest = [m for m in s.get("metrics", []) if not m["metric"].startswith("light.")]
    rows = "".join(f"<tr><td>{_e(m['metric'])}</td><td class='num'>{_number(m['value'])}</td></tr>" for m in rest)
    plots = _plots(validate_dir / "plots" if validate_dir else None)
    return (
        "<h2>Validation</h2><h3>Traffic lights</h3>"
        + (f"<table><tr><th>test</th><th>value</th><th>light</th></tr>{lit}</table>" if lit else "<p>No lights recorded.</p>")
        + (f"<details><summary>All {len(rest)} other metrics</summary><table><tr><th>metric</th><th>value</th></tr>{rows}</table></details>" if rows else "")
        + plots
    )


def _explanation_section(explain_dir: Path | None) -> str:
    if explain_dir is None:
        return "<h2>Explanations</h2><p>Stage 03 left no explanation artifacts in this run.</p>"
    facts = ""
    explain_json = explain_dir / "explain.json"
    if explain_json.is_file():
        flat = _flatten(json.loads(explain_json.read_text(encoding="utf-8")))
        shown = list(flat.items())[:200]
        facts = f"<details><summary>explain.json: {len(shown)} checks and figures</summary><table><tr><th>check</th><th>value</th></tr>" + "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in shown
        ) + "</table></details>"
    return "<h2>Explanations</h2>" + facts + _plots(explain_dir / "plots")


def _model_card_section(validate_dir: Path | None) -> str:
    import mistune

    card = validate_dir / "model_card.md" if validate_dir else None
    if card is None or not card.is_file():
        return "<h2>Model card</h2><p>No model card in this run.</p>"
    rendered = mistune.html(card.read_text(encoding="utf-8"))
    return "<h2>Model card</h2><div class='card'>" + _inline_images(rendered, validate_dir) + "</div>"


def _comparison_section(c: dict) -> str:
    head = "<h2>Comparison with the champion</h2>"
    if c.get("champion") is None or not c.get("metrics"):
        return head + f"<p>{_e(c.get('note') or 'No comparison.')}</p>"
    rows = "".join(
        f"<tr><td>{_e(m['metric'])}</td><td class='num'>{m['candidate']:.4g}</td><td class='num'>{m['champion']:.4g}</td>"
        f"<td class='num'>{m['delta']:+.4g}</td></tr>" for m in c["metrics"]
    )
    parts = [head, f"<p>Champion: version {c['champion']}. {_e(c.get('note', ''))}</p>",
             f"<table><tr><th>metric</th><th>this version</th><th>champion</th><th>delta</th></tr>{rows}</table>"]
    if "psi" in c:
        parts.append(
            f"<table class='facts'><tr><th>applications scored by both</th><td>{c['n_common']}</td></tr>"
            f"<tr><th>PSI of scores (this vs champion)</th><td>{c['psi']:.4f}</td></tr>"
            f"<tr><th>swap set: decisions that change</th><td>{100 * c['swap_share']:.2f} %</td></tr>"
            f"<tr><th>swap in (approved only by this version)</th><td>{c['swap_in']}</td></tr>"
            f"<tr><th>swap out (approved only by the champion)</th><td>{c['swap_out']}</td></tr></table>"
        )
        decisions = c.get("decisions") or {}
        columns = sorted({k for row in decisions.values() for k in row})
        parts.append(
            "<h3>Decisions: champion (rows) vs this version (columns)</h3><table><tr><th></th>"
            + "".join(f"<th>{_e(k)}</th>" for k in columns) + "</tr>"
            + "".join(f"<tr><th>{_e(r)}</th>" + "".join(f"<td class='num'>{decisions[r].get(k, 0)}</td>" for k in columns) + "</tr>" for r in sorted(decisions))
            + "</table>"
        )
    return "".join(parts)


def _lineage_section(s: dict) -> str:
    return (
        "<h2>Lineage</h2><table class='facts'>"
        f"<tr><th>MLflow run</th><td>{_e(s.get('run_id'))}</td></tr>"
        f"<tr><th>git commit</th><td>{_e(s.get('git_commit'))} (dirty tree: {_e(s.get('git_dirty'))})</td></tr>"
        f"<tr><th>manifest hash (sha256)</th><td>{_e(s.get('manifest_hash'))}</td></tr></table>"
    )


# -- helpers -------------------------------------------------------------------------------------

def _plots(folder: Path | None) -> str:
    if folder is None or not folder.is_dir():
        return ""
    figures = [
        f"<figure><img alt='{_e(p.stem)}' src='{_data_uri(p)}'><figcaption>{_e(p.stem.replace('_', ' '))}</figcaption></figure>"
        for p in sorted(folder.glob("*.png"))
    ]
    return "<div class='plots'>" + "".join(figures) + "</div>" if figures else ""


def _inline_images(fragment: str, base: Path) -> str:
    """Embed images that point at files under `base`; replace unreachable ones by their alt text."""
    def swap(match: re.Match) -> str:
        src = match.group(1)
        if src.startswith("data:"):
            return match.group(0)
        target = (base / src).resolve()
        if base.resolve() in target.parents and target.is_file():
            return match.group(0).replace(src, _data_uri(target))
        return f"<em>[image not in the run: {_e(src)}]</em>"
    return _IMG.sub(swap, fragment)


def _data_uri(path: Path) -> str:
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _flatten(obj, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, list) and len(obj) > 12:
        out[prefix.rstrip(".")] = f"{len(obj)} items"
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".")] = f"{obj:.4g}" if isinstance(obj, float) else str(obj)
    return out


def _number(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def _light(value) -> str:
    if not value:
        return ""
    colour = _LIGHT_COLOURS.get(str(value).lower(), "#555")
    return f"<span class='light' style='background:{colour}'>{_e(value)}</span>"


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<style>
body {{ font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: .2em; }} h2 {{ border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }}
table {{ border-collapse: collapse; margin: .6em 0; }} th, td {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.verdict {{ color: #fff; font-size: 1.5em; font-weight: bold; padding: .4em .8em; display: inline-block; border-radius: 4px; }}
.light {{ color: #fff; padding: 0 .5em; border-radius: 3px; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 1em; }} figure {{ margin: 0; max-width: 520px; }} figure img {{ max-width: 100%; }}
.card img {{ max-width: 100%; }} summary {{ cursor: pointer; margin: .6em 0; }}
</style></head><body>
{body}
</body></html>
"""
