"""The shared plot style of every report: colours, sizes and a font that renders Chinese.

`apply_style()` sets matplotlib's rcParams once per process and returns the CJK font it found
(None when the machine has none: then Chinese glyphs render as boxes and the reports say so,
`cjk_font_note()`). The project's set-up installs Debian's fonts-wqy-microhei; Noto CJK and the
usual desktop fonts are found too.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["CJK_FONT_CANDIDATES", "COLOURS", "RISK_CMAP", "apply_style", "cjk_font", "cjk_font_note"]

# Looked up by family name, first found wins.
CJK_FONT_CANDIDATES = (
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP",
    "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "SimHei", "Microsoft YaHei",
    "PingFang SC", "Heiti SC", "AR PL UMing CN",
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

_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
               "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or None."""
    import os

    from matplotlib import font_manager

    for path in _FONT_FILES:   # registered explicitly: matplotlib's cache may predate the install
        if os.path.exists(path):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError):
                pass
    available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONT_CANDIDATES:
        if name in available:
            return name
    return None


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
    })
    if font:
        rcParams["font.family"] = "sans-serif"
        rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
    return font


def cjk_font_note() -> str:
    """One sentence for a report: which CJK font renders Chinese, or that none was found."""
    font = cjk_font()
    if font:
        return f"Chinese text in the plots is set in {font}."
    return ("No font with Chinese glyphs was found on this machine: Chinese text in the plots shows as "
            "boxes (install Debian's fonts-wqy-microhei, as `make setup` does); the tables are unaffected.")


def _interactive() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None
