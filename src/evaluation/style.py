"""House style for figures: colour-blind-safe palette, readable sizes, a source line, CJK fonts.

Every notebook and the annual review draw through :func:`use` and :func:`source_note`, so figures
look alike and always say where the data come from ("synthetic data" where they are).

Chinese labels need a CJK font. :func:`cjk_font` looks for one that is installed (Noto Sans CJK,
Source Han Sans, WenQuanYi, ...) and :func:`use` with ``lang="zh"`` fails with a clear message when
there is none, instead of drawing empty boxes.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import font_manager

#: Okabe & Ito (2008) colour-blind-safe palette
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
#: sequential and diverging colour maps that stay readable in grey and for colour-blind readers
CMAP_SEQUENTIAL = "viridis"
CMAP_DIVERGING = "RdBu_r"

CJK_FONT_NAMES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback", "SimHei", "Microsoft YaHei",
    "PingFang SC", "AR PL UMing CN", "AR PL UKai CN",
)

INSTALL_HINT = (
    "no CJK font is installed, so Chinese labels would render as empty boxes; install one, e.g. "
    "`apt-get install fonts-wqy-microhei` (Debian/Ubuntu) or `fonts-noto-cjk`, then run again "
    "(`make test` and `make review` install it automatically where apt-get is available as root)"
)

RC = {
    "figure.figsize": (7.5, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10.5,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "svg.hashsalt": "governance-evaluation",  # deterministic SVG ids
    "svg.fonttype": "none",
    "date.converter": "concise",
}


class FontMissingError(RuntimeError):
    """Raised when Chinese text is requested and no CJK font is installed."""


def cjk_font() -> str | None:
    """Name of an installed CJK font family, or ``None``."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONT_NAMES:
        if name in installed:
            return name
    # a font file added after matplotlib built its cache
    for path in font_manager.findSystemFonts():
        low = path.lower()
        if any(k in low for k in ("notosanscjk", "wqy", "sourcehansans", "droidsansfallback")):
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None


def use(lang: str = "en") -> None:
    """Apply the house style; for ``lang="zh"`` select a CJK font or raise :class:`FontMissingError`."""
    plt.rcParams.update(RC)
    plt.rcParams["axes.prop_cycle"] = matplotlib.cycler(color=PALETTE)
    if lang == "zh":
        font = cjk_font()
        if font is None:
            raise FontMissingError(INSTALL_HINT)
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        plt.rcParams["font.family"] = "sans-serif"
        plt.rcParams["axes.unicode_minus"] = False
    else:
        plt.rcParams["font.sans-serif"] = ["DejaVu Sans"]


@contextmanager
def style(lang: str = "en"):
    """Context manager form of :func:`use`."""
    with plt.rc_context():
        use(lang)
        yield


def source_note(fig, text: str = "Source: synthetic Zhangwan district (evaluation synth); aggregates from the 2020 article.", synthetic: bool = True) -> None:
    """Write the source line at the bottom left of ``fig``."""
    if synthetic and "synthetic" not in text.lower() and "合成" not in text:
        text = text + " Synthetic data."
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=8, color="#555555")
