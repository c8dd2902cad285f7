"""Plots render Chinese with the font that comes with the project, whatever the machine has."""

import subprocess
import sys
import textwrap

from factories import creditmine_env

# Runs in a fresh interpreter: matplotlib's font list and creditmine's font choice are per process.
RENDER_WITHOUT_SYSTEM_CJK = textwrap.dedent("""
    import json, warnings
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import font_manager
    import matplotlib.pyplot as plt

    # forget every font of the machine but matplotlib's own: as on a machine without a CJK font
    own = Path(matplotlib.get_data_path()).resolve()
    font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist
                                        if own in Path(f.fname).resolve().parents]
    font_manager.fontManager._findfont_cached.cache_clear()

    from creditmine.reports.style import apply_style, bundled_cjk_font_file, cjk_font_file
    font = apply_style()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        ax.set_title("各数据源缺失比例 违约率 小微易贷")
        ax.set_xlabel("政采贷 申请")
        fig.canvas.draw()
        plt.close(fig)
    print(json.dumps({"font": font, "file": cjk_font_file(), "bundled": str(bundled_cjk_font_file()),
                      "warnings": [str(w.message) for w in caught]}))
""")


def test_chinese_renders_with_the_bundled_font_and_no_missing_glyph():
    result = subprocess.run([sys.executable, "-c", RENDER_WITHOUT_SYSTEM_CJK], capture_output=True, text=True,
                            env=creditmine_env())
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["font"] == "Noto Sans CJK SC", found
    assert found["file"] == found["bundled"], found          # the packaged font, not a system one
    missing = [w for w in found["warnings"] if "missing from font" in w or "Glyph" in w]
    assert not missing, missing
    assert not found["warnings"], found["warnings"]


def test_font_note_names_the_font():
    from creditmine.reports.style import cjk_font_note

    assert cjk_font_note() == "Chinese text in the plots is set in Noto Sans CJK SC."
