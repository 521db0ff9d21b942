"""Chinese text in figures on a fresh machine, without touching matplotlib's global state.

Team names (解放街道, 凤桥镇 …) must render in every figure, on a planner's laptop, a CI runner or a
server that has no CJK font installed. Matplotlib's default DejaVu Sans has no CJK glyphs and draws
boxes ("tofu"), with one "Glyph … missing" warning per character.

Choices and their trade-offs:

* **Where the font comes from.** A dependency installed by ``pip install -e .``:
  ``pylopdf-fonts-zh-cn`` ships Google's *Noto Sans SC* (the Simplified-Chinese subset of Noto Sans
  CJK, SIL Open Font License 1.1, 8.3 MB OpenType) and nothing else; its wheel is 17 MB. Bigger
  bundles were rejected: ``mplfonts`` (85 MB, and it ships SimHei, which is not freely licensed),
  the full CJK collection (Japanese glyph forms in the first face). A system font (Noto Sans CJK SC,
  Source Han Sans SC, WenQuanYi, SimHei, Microsoft YaHei, PingFang SC) is used when the package is
  missing, e.g. in an environment installed without dependencies.
* **When.** The font is registered with ``matplotlib.font_manager.fontManager.addfont`` the first
  time a figure is made (:func:`cjk_family`), not at import: importing ``dispatch_sim`` stays fast and
  does not read an 8 MB file for commands that draw nothing.
* **How.** No global ``rcParams`` change. Plot functions draw inside :func:`style`, an
  ``rc_context`` whose ``font.family`` is a *fallback list of concrete names*,
  ``["DejaVu Sans", "Noto Sans SC"]`` (matplotlib ≥ 3.6): Latin text keeps DejaVu Sans and CJK
  characters fall back to Noto Sans SC glyph by glyph. Concrete names (not the generic
  ``sans-serif`` alias) are resolved when a text is created, so a figure drawn later, outside the
  context (Jupyter's inline backend, ``savefig`` in the caller), still finds the CJK font.
* **Without any CJK font.** :func:`label` returns the English name (``name_en``) for any text the
  fonts cannot draw, and one notice is logged (:data:`NOTICE`), instead of boxes and warnings.
* **In the browser.** ``report.html`` meets the same problem in a browser without a CJK font;
  :func:`web_font_css` embeds the same font, cut to the characters the page uses (~90 kB for the
  Nanhu report). OFL 1.1 allows embedding and subsetting; the subset keeps the name "Noto Sans SC"
  (the font's only reserved name is "Source").
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

#: Latin text font (ships with matplotlib), first in the fallback list.
LATIN_FAMILY = "DejaVu Sans"

#: Installed CJK fonts tried, in order, when the packaged one is unavailable.
SYSTEM_CJK_FAMILIES = ("Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN",
                       "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
                       "Heiti SC", "Noto Sans CJK JP")

#: Logged once when no CJK font is available.
NOTICE = ("no Chinese font found (install the 'pylopdf-fonts-zh-cn' package, a dependency of dispatch_sim): "
          "figures label teams with their English names (name_en)")

_lock = threading.Lock()
_family: str | None = None
_resolved = False


def _packaged_font() -> Path | None:
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return None
    p = Path(pylopdf_fonts_zh_cn.sans_path())
    return p if p.is_file() else None


def cjk_family() -> str | None:
    """The family name of a CJK font registered with matplotlib, or None if there is none.

    The first call registers the packaged Noto Sans SC (or finds a system CJK font); later calls
    return the cached answer. Thread-safe.

    Returns
    -------
    str or None
        E.g. ``"Noto Sans SC"``.
    """
    global _family, _resolved
    if _resolved:
        return _family
    with _lock:
        if _resolved:
            return _family
        from matplotlib import font_manager as fm

        path = _packaged_font()
        if path is not None:
            try:
                fm.fontManager.addfont(str(path))
                _family = fm.FontProperties(fname=str(path)).get_name()
            except (OSError, RuntimeError, ValueError) as exc:  # unreadable file: try the system fonts
                log.info("packaged CJK font %s not usable (%s)", path, exc)
        if _family is None:
            known = {f.name for f in fm.fontManager.ttflist}
            _family = next((name for name in SYSTEM_CJK_FAMILIES if name in known), None)
        if _family is None:
            log.warning(NOTICE)
        _resolved = True
        return _family


def font_family() -> list[str]:
    """The ``font.family`` fallback list used by every figure: Latin first, then CJK if any."""
    cjk = cjk_family()
    return [LATIN_FAMILY, cjk] if cjk else [LATIN_FAMILY]


@functools.lru_cache(maxsize=8)
def _ft2fonts(families: tuple[str, ...]):
    from matplotlib import font_manager as fm
    from matplotlib.ft2font import FT2Font

    return [FT2Font(fm.findfont(fm.FontProperties(family=f), fallback_to_default=False)) for f in families]


def can_render(text: str) -> bool:
    """Whether every character of ``text`` has a glyph in the figure fonts (no tofu)."""
    fonts = _ft2fonts(tuple(font_family()))
    return all(ch.isspace() or any(f.get_char_index(ord(ch)) for f in fonts) for ch in text)


def label(name: str, name_en: str | None = None, lang: str = "zh") -> str:
    """The label to draw for a named thing (team, township).

    Parameters
    ----------
    name
        The name as written in the scenario (often Chinese).
    name_en
        Its English name, if the scenario gives one.
    lang
        ``"en"`` prefers ``name_en``; anything else shows ``name`` as written.

    Returns
    -------
    str
        ``name`` unless English is asked for or the fonts cannot draw it; then ``name_en`` (or
        ``name`` when there is no English name).
    """
    if lang == "en" and name_en:
        return name_en
    if name_en and not can_render(name):
        return name_en
    return name


def rc() -> dict:
    """The rcParams every figure is drawn with (applied through :func:`style`, never globally)."""
    return {
        "font.family": font_family(),
        "axes.titlesize": 11,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
        "savefig.dpi": 150,
    }


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Draw inside this context: dispatch_sim's figure style, restored on exit."""
    import matplotlib

    with matplotlib.rc_context(rc()):
        yield


#: CSS family name of the web font :func:`web_font_css` embeds.
WEB_FAMILY = "dispatch_sim CJK"


def web_font_css(text: str, family: str = WEB_FAMILY) -> str:
    """An ``@font-face`` rule embedding the packaged Noto Sans SC, cut to the characters of ``text``.

    A browser on a machine without a CJK font (a fresh Linux, a headless Chromium in CI) draws the
    Chinese of ``report.html`` as boxes, just as matplotlib does; a self-contained page therefore
    carries its font. Only the non-ASCII characters the page uses are kept (fontTools subsetter,
    WOFF, ~1 kB a character: a few hundred kB for a report), so the page stays small enough to send.
    The rule carries a ``unicode-range`` of exactly those characters, so ``family`` can go *first*
    in the CSS ``font-family`` list and Latin text still uses the reader's own font, e.g.
    ``font-family: "dispatch_sim CJK", system-ui, sans-serif``. (Placed last, as a fallback, Chromium
    did not use it for bold headings: boxes again.)

    Parameters
    ----------
    text
        Every text the page shows (HTML included; markup characters are ASCII and ignored).
    family
        The CSS family name to declare.

    Returns
    -------
    str
        The rule, or ``""`` when there is nothing to embed (no non-ASCII text, or no packaged font).
    """
    import hashlib

    chars = sorted(o for o in map(ord, set(text)) if o > 0x7F)  # set() first: pages carry megabytes of base64
    path = _packaged_font()
    if not chars or path is None:
        return ""
    # subsetting takes seconds; the same characters from the same font give the same rule, so it is
    # kept in the cache folder (a report of the same district reuses it)
    stat = Path(path).stat()
    key = hashlib.sha1(repr((FONT_CSS_VERSION, str(path), stat.st_size, family, chars)).encode()).hexdigest()[:20]
    cached = _font_cache_dir() / f"webfont_{key}.css"
    try:
        return cached.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        pass
    css = _subset_css(path, chars, family)
    try:
        from .io import write_text_atomic

        write_text_atomic(cached, css, encoding="ascii")
    except OSError:
        pass  # a read-only cache only costs time
    return css


#: Bumped when the embedded rule's form changes, so cached rules of an older form are not reused.
FONT_CSS_VERSION = 1


def _font_cache_dir() -> Path:
    from . import settings

    return Path(settings.cache_folder) / "fonts"


def _subset_css(path, chars: list[int], family: str) -> str:
    """The ``@font-face`` rule of :func:`web_font_css`, subset with fontTools."""
    import base64
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path))
    options = subset.Options()
    options.flavor = "woff"  # zlib: no brotli needed (WOFF2 would be ~20% smaller)
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    sub = subset.Subsetter(options)
    sub.populate(unicodes=chars)
    sub.subset(font)
    buf = io.BytesIO()
    font.flavor = "woff"
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    ranges = ",".join(f"U+{a:X}" if a == b else f"U+{a:X}-{b:X}" for a, b in _runs(chars))
    return (f'@font-face{{font-family:"{family}";src:url(data:font/woff;base64,{data}) format("woff");'
            f'unicode-range:{ranges};}}')


def _runs(codes: list[int]) -> list[tuple[int, int]]:
    """Sorted code points as (first, last) runs, for a compact CSS unicode-range."""
    out: list[tuple[int, int]] = []
    for c in codes:
        if out and c == out[-1][1] + 1:
            out[-1] = (out[-1][0], c)
        else:
            out.append((c, c))
    return out
