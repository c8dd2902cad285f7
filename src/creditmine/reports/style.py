"""The shared plot style of every report: colours, sizes and a font that renders Chinese.

`apply_style()` sets matplotlib's rcParams once per process and returns the CJK font it uses.
The font comes with the project itself: the PyPI package `noto-cjk-sans-otc` (Noto Sans CJK,
SIL Open Font License 1.1), a dependency in pyproject.toml, is registered with matplotlib here,
so Chinese renders on a machine without any system CJK font. Should the package be missing (a
broken environment), the usual system fonts are looked for, and `cjk_font_note()` tells a
report's reader when none was found.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = [
    "CJK_FONT_CANDIDATES", "COLOURS", "RISK_CMAP", "apply_style", "bundled_cjk_font_file", "cjk_font",
    "cjk_font_file", "cjk_font_note",
]

# Looked up by family name, first found wins: the bundled font's Simplified Chinese face first.
CJK_FONT_CANDIDATES = (
    "Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans SC", "Source Han Sans SC",
    "Source Han Sans CN", "Noto Sans CJK JP", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC",
    "AR PL UMing CN",
)

COLOURS = {
    "risk_up": "#c0392b",      # pushes the PD up
    "risk_down": "#1f77b4",    # pushes the PD down
    "neutral": "#7f7f7f",
    "green": "#2e7d32",
    "amber": "#f9a825",
    "red": "#c62828",
    "primary": "#1f4e79",
    "challenger": "#e07b39",
}
RISK_CMAP = "coolwarm"

# System fonts registered explicitly too (matplotlib's font cache may predate their install).
_SYSTEM_FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                      "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                      "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


def bundled_cjk_font_file() -> Path | None:
    """The font file of the `noto-cjk-sans-otc` package, or None when the package is missing."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        return None
    path = Path(str(noto_cjk_sans_otc.FONT_PATH))
    return path if path.is_file() else None


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of a registered font with Chinese glyphs (the bundled one first), or None."""
    import os

    from matplotlib import font_manager

    bundled = bundled_cjk_font_file()
    for path in (str(bundled) if bundled else None, *_SYSTEM_FONT_FILES):
        if path and os.path.exists(path):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError):
                pass
    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONT_CANDIDATES:
        if name in available:
            return name
    return None


def cjk_font_file() -> str | None:
    """The file matplotlib renders the CJK font from, or None."""
    from matplotlib import font_manager

    font = cjk_font()
    if font is None:
        return None
    return str(font_manager.findfont(font_manager.FontProperties(family=font), fallback_to_default=False))


def apply_style() -> str | None:
    """Set the project's matplotlib style (Agg when not interactive); returns the CJK font or None."""
    import matplotlib

    if not _interactive():
        matplotlib.use("Agg", force=False)
    from matplotlib import rcParams

    font = cjk_font()
    rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 110, "savefig.bbox": "tight",
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
        "grid.alpha": 0.3, "axes.titlesize": 11, "axes.labelsize": 10, "font.size": 9,
        "axes.unicode_minus": False,   # CJK fonts often lack the Unicode minus sign
        "svg.hashsalt": "creditmine",  # deterministic ids should a plot be saved as SVG
    })
    if font:
        rcParams["font.family"] = "sans-serif"
        rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    return font


def cjk_font_note() -> str:
    """One sentence for a report: which CJK font renders Chinese, or that none was found and why."""
    font = cjk_font()
    if font:
        return f"Chinese text in the plots is set in {font}."
    return ("No font with Chinese glyphs was found: Chinese text in the plots shows as empty boxes. "
            "The font comes with the Python package noto-cjk-sans-otc, a dependency of creditmine: "
            "reinstall with `make setup` (or `pip install -e .`); the tables are unaffected.")


def _interactive() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
