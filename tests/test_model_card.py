"""The model card: every section of Mitchell et al. (2019), in Markdown and escaped HTML."""

from creditmine.validation.model_card import model_card_sections, to_html, to_markdown

FACTS = {
    "model_name": "creditmine-quick_loan", "product": "quick_loan", "verdict": "amber",
    "owner": "risk team", "intended_use": "grade SME applications",
    "application_products": ["tax", "first_loan"], "data_window": "2021-01 to 2024-12",
    "splits": {"train": (100, 5), "oot": (50, 3)}, "primary": "gbm", "challenger": "scorecard",
    "features": ["sales_growth", "late_filings"],
    "metrics": [{"model": "gbm", "split": "oot", "auc": 0.78, "auc_ci": (0.74, 0.82), "gini": 0.56, "ks": 0.41}],
    "lights": [{"test": "psi_score", "value": 0.31, "light": "red", "gating": True}],
    "limitations": ["one out-of-time year"], "ethical": ["no personal data <script>"],
    "skipped": {"migration": "no dates"},
}


def test_markdown_has_every_section_and_the_facts():
    text = to_markdown("Model card", model_card_sections(FACTS))
    for heading in ("Model details", "Intended use", "Products", "Data", "Features", "Metrics",
                    "Validation lights", "Limitations", "Ethical considerations"):
        assert f"## {heading}" in text
    assert "Validation verdict: AMBER" in text
    assert "| gbm | oot | 0.78 | 0.74 - 0.82 | 0.56 | 0.41 |" in text
    assert "Not assessed: migration (no dates)" in text
    assert "- first_loan" in text and "Owner: risk team" in text
    assert "2 features used by the primary model: sales_growth, late_filings." in text


def test_html_escapes_values_and_shows_the_verdict():
    page = to_html("Model card", model_card_sections(FACTS), verdict="red")
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert "Verdict: RED" in page
    assert "<td style=\"background:#c62828;color:white\">red</td>" in page


def test_missing_facts_are_said_not_invented():
    text = to_markdown("Card", model_card_sections({"product": "x"}))
    assert "Owner: not stated" in text
    assert "every application of the data set" in text
