"""HTML reports carry results, not code, parameters or stderr noise."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from creditmine.reports.render import notebook_to_html


def test_report_hides_code_parameters_and_stderr(tmp_path):
    nb = new_notebook(cells=[
        new_code_cell("params_file = 'secret.yaml'", metadata={"tags": ["parameters"]}),
        new_markdown_cell("# Verdict heading"),
        new_code_cell("print_result_of_a_call()", outputs=[
            new_output("stream", name="stdout", text="visible result 42\n"),
            new_output("stream", name="stderr", text="progress 37%|###\n"),
        ]),
    ])
    source = tmp_path / "nb.ipynb"
    nbformat.write(nb, source)
    html = notebook_to_html(source, tmp_path / "nb.html", title="t").read_text()
    assert "Verdict heading" in html and "visible result 42" in html
    assert "print_result_of_a_call" not in html
    assert "secret.yaml" not in html
    assert "progress 37%" not in html
    assert "progress 37%" in source.read_text()  # the executed notebook keeps everything
