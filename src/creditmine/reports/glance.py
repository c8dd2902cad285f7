"""The "at a glance" panel every report opens with: the verdict, a few key figures, what to look at."""

from __future__ import annotations

import html

from creditmine.reports.tables import HTML

__all__ = ["LEVELS", "badge", "panel", "panel_html"]

#: panel levels and their meaning; the CSS (report.css) colours them
LEVELS = ("green", "amber", "red", "info")


def badge(text: str, level: str, gating: bool = False) -> str:
    """A coloured badge (HTML); `gating` marks a light that sets a verdict."""
    classes = f"cm-badge cm-{level if level in LEVELS else 'info'}" + (" cm-gating" if gating else "")
    return f"<span class=\"{classes}\">{html.escape(text)}</span>"


def panel(title: str, verdict: str, level: str, figures: list[tuple[str, str]], look_at: list[str],
          explanation: str = ""):
    """The panel as an IPython HTML object (see `panel_html`)."""
    return HTML(panel_html(title, verdict, level, figures, look_at, explanation))


def panel_html(title: str, verdict: str, level: str, figures: list[tuple[str, str]], look_at: list[str],
               explanation: str = "") -> str:
    """The "at a glance" panel.

    Parameters
    ----------
    title : what the verdict is about ("Validation of quick_loan").
    verdict : the verdict in a few words ("AMBER", "registered, pending review").
    level : green, amber, red or info (the colour).
    figures : 3-5 (label, formatted value) pairs.
    look_at : sentences (HTML allowed) naming what to look at first.
    explanation : HTML under the figures (e.g. why the verdict is red).
    """
    level = level if level in LEVELS else "info"
    cells = "".join(f"<div class=\"cm-figure\"><dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd></div>"
                    for label, value in figures)
    items = "".join(f"<li>{line}</li>" for line in look_at)
    look = f"<div class=\"cm-look\"><b>What to look at</b><ul>{items}</ul></div>" if look_at else ""
    return (
        f"<section class=\"cm-glance cm-glance-{level}\" aria-label=\"at a glance\">"
        f"<div class=\"cm-verdict\" data-verdict=\"{html.escape(level)}\">"
        f"{badge(verdict, level)}<span class=\"cm-verdict-title\">{html.escape(title)}</span></div>"
        f"<dl class=\"cm-figures\">{cells}</dl>{explanation}{look}</section>"
    )
