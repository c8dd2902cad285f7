"""The reports of one CI pipeline run, read as a validator reads them, in headless Chromium too.

The pipeline runs once for the whole session (the `ci_run` fixture of conftest.py, which
test_pipeline.py shares), as `make pipeline` would but on params/ci.yaml and with the relative
tracking URI `make mlflow-ui` uses (MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db): the stage 05
notebooks, which run in notebooks/, must register into the project's one store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from creditmine import artifacts
from creditmine.artifacts import STAGES
from creditmine.reports import verdicts

pytestmark = pytest.mark.slow

VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _reports(cfg) -> list[Path]:
    return sorted(cfg.reports_dir.rglob("*.html"))


def test_one_store_whatever_the_folder_a_stage_runs_in(ci_run):
    from mlflow import MlflowClient

    cfg, _ = ci_run
    assert not (cfg.root / "notebooks" / "mlruns").exists()
    store = cfg.root / "mlruns" / "mlflow.db"
    assert store.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}")
    for product in cfg.products:
        registration = artifacts.read_registration(artifacts.layout(cfg, product))
        assert registration["tracking_uri"] == f"sqlite:///{store.as_posix()}"
        assert client.get_model_version(registration["model_name"], str(registration["version"]))


def test_the_run_ends_with_a_summary_per_product(ci_run):
    cfg, out = ci_run
    tail = out[out.index("run 'ci': 9 stage runs in"):]
    for product in cfg.products:
        where = artifacts.layout(cfg, product)
        validation = artifacts.read_validation(where)
        primary = validation["primary"]
        auc = validation["metrics"][f"{primary}.oot.auc"]
        line = next(x for x in tail.splitlines() if x.startswith(f"{product}:"))
        assert f"primary {primary}, out-of-time AUC {auc:.3f}" in line
        assert f"verdict {validation['verdict'].upper()}" in line
        setting = verdicts.setting_tests(validation["verdict"], validation["lights"])
        if validation["verdict"] == "green":
            assert "every gating test green" in line
        else:
            assert setting and "set by" in line
            assert all(verdicts.test_title(light["test"]) in line for light in setting), line
        assert f"registered creditmine-{product} version 1, pending" in line
        assert f"creditmine review show creditmine-{product} 1" in tail
        if validation["verdict"] == "red":
            assert f"review approve creditmine-{product}" not in tail
        else:
            assert f"creditmine review approve creditmine-{product} 1 --comment TEXT" in tail
    assert tail.rstrip().endswith(f"reports: {cfg.reports_dir / 'index.html'}")


def test_the_index_links_every_report_with_its_verdict_and_version(ci_run):
    cfg, _ = ci_run
    index = cfg.reports_dir / "index.html"
    text = index.read_text(encoding="utf-8")
    links = set(re.findall(r'href="([^"]+\.html)"', text))
    expected = {"01_build_features.html"} | {f"{p}/{s.name}.html" for p in cfg.products for s in STAGES if s.per_product}
    assert expected <= links and all((index.parent / link).is_file() for link in links)
    for product in cfg.products:
        where = artifacts.layout(cfg, product)
        verdict = artifacts.read_validation(where)["verdict"]
        version = artifacts.read_registration(where)["version"]
        assert f'<span data-verdict="{verdict}"><span class="cm-badge cm-{verdict}">{verdict.upper()}</span>' in text
        assert f"creditmine-{product} version {version}" in text
    from creditmine.reports.index import write_index

    write_index(cfg, cfg.products, {p: "pending" for p in cfg.products})
    assert index.read_text(encoding="utf-8") == text                # deterministic


def test_reports_are_self_contained_and_small(ci_run):
    cfg, _ = ci_run
    for html in _reports(cfg):
        text = html.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), html
        assert not re.search(r'(src|href)="(https?:)?//', text), html
        css = sum(len(block) for block in re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.S))
        assert css < 12_000, (html, css)


def test_reports_read_as_tables_for_people(ci_run):
    cfg, _ = ci_run
    for html in _reports(cfg):
        text = html.read_text(encoding="utf-8")
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", text, flags=re.S)
        assert cells or html.name == "index.html"
        for cell in cells:
            assert not re.search(r"\d\.\d+e[-+]\d\d", cell), (html, cell)       # no e-notation
            assert cell.strip().lower() not in ("nan", "none", "<na>", "nat"), (html, cell)
            assert "…" not in cell, (html, cell)                                # nothing cut
        assert "rows × " not in text and "<pre>" not in text, html                # no raw DataFrame or repr
        assert "'models:/" not in text, html
        assert not re.search(r"<table[^>]*>\s*<thead>.*?</thead>\s*<tbody>\s*</tbody>", text, flags=re.S), html
        if html.name != "index.html":
            glance = text.find('class="cm-glance')
            assert 0 < glance < text.find("<h2"), html                          # the panel comes first
            assert 'data-verdict="' in text[glance:glance + 400], html


def test_reports_are_the_same_for_the_same_run(ci_run):
    """Every table and figure of a report is the same when its notebook is rendered again."""
    from creditmine.reports.render import notebook_to_html

    cfg, _ = ci_run
    where = artifacts.layout(cfg, "quick_loan")
    executed, html = where.report(artifacts.VALIDATE)
    again = notebook_to_html(executed, html.with_name("again.html"), title="creditmine · ci · 04_validate/quick_loan")
    assert again.read_text(encoding="utf-8") == html.read_text(encoding="utf-8")
    again.unlink()


@pytest.mark.browser
def test_every_report_renders_offline_with_its_verdict_on_the_first_screen(ci_run, tmp_path):
    from playwright.sync_api import sync_playwright

    cfg, _ = ci_run
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        outside = []
        page.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                   if not route.request.url.startswith(("file:", "data:")) else route.continue_())
        for html in _reports(cfg):
            name = html.relative_to(cfg.reports_dir).as_posix()
            page.goto(html.as_uri(), wait_until="load")
            verdict = page.locator("[data-verdict]").first
            box = verdict.bounding_box()
            if not verdict.is_visible() or box is None or box["y"] + box["height"] > VIEWPORT["height"]:
                problems.append(f"{name}: verdict not on the first screen ({box})")
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                                   ".map(i => i.alt || i.src.slice(0, 40))")
            if broken:
                problems.append(f"{name}: images not loaded: {broken}")
            widths = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => "
                                   "Math.ceil(t.getBoundingClientRect().right))")
            if widths and max(widths) > VIEWPORT["width"]:
                problems.append(f"{name}: a table reaches {max(widths)} px, wider than the {VIEWPORT['width']} px viewport")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > VIEWPORT["width"]:
                problems.append(f"{name}: the page scrolls sideways ({scroll} px)")
            page.screenshot(path=str(tmp_path / (name.replace("/", "_") + ".png")))
        browser.close()
    assert not outside, f"requests left the machine: {outside[:5]}"
    assert not problems, "\n".join(problems)


def test_a_notebook_opened_without_parameters_runs_on_the_latest_run(ci_run):
    """As in JupyterLab right after the pipeline: no parameters, the notebooks' folder as cwd."""
    import papermill as pm

    cfg, _ = ci_run
    for stage in (artifacts.FEATURES, artifacts.VALIDATE):
        out = cfg.root / "notebooks" / f"out-{stage.notebook}"
        pm.execute_notebook(str(cfg.root / "notebooks" / stage.notebook), str(out), cwd=str(cfg.root / "notebooks"),
                            kernel_name="python3", progress_bar=False)
        text = out.read_text(encoding="utf-8")
        assert "cm-glance" in text
        out.unlink()
