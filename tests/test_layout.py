"""The code's shape, kept: modules a reader takes in at once, tests that stand alone."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "src").rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (over {MAX_MODULE_LINES} lines): {long}"


def test_no_test_file_imports_another():
    offenders = {}
    for path in sorted((REPO / "tests").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            offenders.update({f"{path.name}:{node.lineno}": n for n in names if n.split(".")[0].startswith("test_")})
    assert not offenders, f"shared test helpers belong in factories.py or a helper module: {offenders}"
