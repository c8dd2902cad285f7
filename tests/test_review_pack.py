"""The review pack opens offline in headless Chromium with every image loaded and the verdict visible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import factories

MODEL = "creditmine-quick_loan"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def pack(tmp_path_factory, quick_loan_stages):
    """The review pack of a challenger, with an approved champion to compare against."""
    from creditmine.explain.stage import run as explain
    from creditmine.governance import review
    from creditmine.validation.stage import run as validate

    root = tmp_path_factory.mktemp("pack")
    # factories.quick_loan_project(root, "champ", explain=True): the session's stages 01-02, then 03 and 04
    cfg = factories.from_stages(quick_loan_stages, root, "champ")
    explain(cfg, "quick_loan", progress=False)
    validate(cfg, "quick_loan", progress=False)
    champion = factories.register(cfg)
    validator = factories.second_person(cfg, "rui")
    validator.approve(MODEL, champion.version, "ok")
    validator.promote(MODEL, champion.version)
    challenger = factories.register(factories.copy_run(cfg, "chall"))
    summary = review.show(cfg.tracking_uri, MODEL, challenger.version)
    return Path(summary["review_pack"]), summary, tmp_path_factory.mktemp("chromium-profile")


def test_pack_is_self_contained(pack):
    path, summary, _ = pack
    text = path.read_text(encoding="utf-8")
    assert path.name == f"v{summary['version']}.html"
    sources = re.findall(r"""<img\b[^>]*\bsrc=['"]([^'"]+)""", text)
    assert len(sources) >= 3  # explanation and validation plots
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    assert not re.search(r"""(src|href)=['"](https?:|//|file:)""", text)
    for heading in ("Validation", "Explanations", "Model card", "Comparison with the champion", "Lineage"):
        assert f"<h2>{heading}</h2>" in text
    assert "swap set" in text and summary["comparison"]["champion"] is not None


@pytest.mark.browser
def test_pack_renders_in_headless_chromium(pack):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the test set-up installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    path, summary, profile = pack
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, offline=True,
        )
        try:
            page = context.new_page()
            failed = []
            page.on("requestfailed", lambda request: failed.append(request.url[:80]))
            page.goto(path.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => ({complete: i.complete, width: i.naturalWidth, alt: i.alt}))"
            )
            verdict = page.locator("#verdict")
            assert verdict.is_visible()
            assert verdict.inner_text() == f"Validation verdict: {summary['verdict'].upper()}"
        finally:
            context.close()
    assert len(images) >= 3
    assert all(i["complete"] and i["width"] > 0 for i in images), images
    assert failed == []
