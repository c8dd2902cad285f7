"""Executed notebooks -> self-contained HTML reports without code, for validators."""

from __future__ import annotations

from pathlib import Path


def notebook_to_html(notebook: str | Path, html: str | Path, title: str | None = None) -> Path:
    """Render an executed notebook to HTML with every code cell and prompt hidden.

    Images are already embedded in the outputs (base64), so the file reads offline. Cells tagged
    ``parameters`` or ``injected-parameters`` are dropped: a reader sees results, not settings
    plumbing (the parameters are in the executed .ipynb beside it and in MLflow). So are stderr
    streams (progress bars, library warnings): they stay in the executed notebook for developers.
    """
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    if title:
        nb.metadata["title"] = title
    tags = TagRemovePreprocessor(remove_cell_tags=("parameters", "injected-parameters", "remove-cell"))
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(tags, enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    html = Path(html)
    html.parent.mkdir(parents=True, exist_ok=True)
    html.write_text(body, encoding="utf-8")
    return html
