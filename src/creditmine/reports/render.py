"""Executed notebooks -> self-contained HTML reports without code, for validators.

A report is one file that reads offline: no script, nothing loaded from the network (images are
embedded in the outputs as base64), and one small stylesheet, `report.css`, inlined instead of
Jupyter's own 260 KB of CSS. The cells come from nbconvert's "basic" template (the cells' HTML
only); `page` wraps them, and the run's index uses the same page.
"""

from __future__ import annotations

import html as html_lib
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = ["notebook_to_html", "page", "stylesheet"]


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The reports' CSS."""
    return resources.files("creditmine.reports").joinpath("report.css").read_text(encoding="utf-8")


def page(title: str, body: str, footer: str = "") -> str:
    """A whole HTML document: `body` (HTML) under the project's stylesheet, nothing external."""
    foot = f"<footer>{footer}</footer>" if footer else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html_lib.escape(title)}</title>\n<style>\n{stylesheet()}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n{foot}\n</main>\n</body>\n</html>\n"
    )


def notebook_to_html(notebook: str | Path, html: str | Path, title: str | None = None) -> Path:
    """Render an executed notebook to HTML with every code cell and prompt hidden.

    Cells tagged ``parameters`` or ``injected-parameters`` are dropped: a reader sees results, not
    settings plumbing (the parameters are in the executed .ipynb beside it and in MLflow). So are
    stderr streams (progress bars, library warnings): they stay in the executed notebook for
    developers. Code cells without any output leave nothing behind.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or c.outputs]
    title = title or Path(notebook).stem
    tags = TagRemovePreprocessor(remove_cell_tags=("parameters", "injected-parameters", "remove-cell"))
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")
    exporter.register_preprocessor(tags, enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    html = Path(html)
    html.parent.mkdir(parents=True, exist_ok=True)
    footer = f"{html_lib.escape(title)} · executed notebook: {html_lib.escape(Path(notebook).name)}"
    html.write_text(page(title, body, footer), encoding="utf-8")
    return html
