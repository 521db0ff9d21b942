"""Atomic output writing that others can read.

Every file the package writes (outputs and caches) goes through this module, for two promises:

* **Atomic**: data goes to a temporary file in the target folder, which is renamed over the target
  once complete; a crash or Ctrl-C never leaves a half-written ``summary.json`` or GraphML behind,
  and a reader never sees one.
* **Shareable**: the finished file has the mode an ordinary ``open(path, "w")`` would give it,
  ``0o666 & ~umask`` (0644 under the usual umask 022), and folders ``0o777 & ~umask``.
  ``tempfile.mkstemp`` / ``mkdtemp`` create 0600 / 0700 on purpose (nobody may read a half-written
  file), so the mode is set on the temporary file before the rename. Without this a colleague or a
  web server cannot open ``report.html``, and a shared cache becomes unreadable to other users.

Reading the umask has a trade-off. POSIX offers no call that only reads it: ``os.umask(0)`` followed
by ``os.umask(old)`` briefly sets it to 0 for the whole process, so a thread creating a file at that
moment would make it world-writable. On Linux we therefore read it from ``/proc/self/status``
(no side effect, and it follows a umask changed at run time); elsewhere the swap is done under a
lock, which protects our own writers but not foreign threads, and is cached after the first call.

CSV is written as UTF-8 **with a BOM** (``utf-8-sig``): Excel and WPS on Chinese Windows otherwise
decode it as GBK and show garbled team names. Python readers should open it with
``encoding="utf-8-sig"`` (pandas strips the BOM itself).
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import math
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

_umask_lock = threading.Lock()
_umask_cached: int | None = None


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows.

    Returns
    -------
    int
        The umask bits, e.g. ``0o022``.
    """
    global _umask_cached
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        if _umask_cached is None:
            old = os.umask(0o077)  # the most restrictive value while it is swapped out
            os.umask(old)
            _umask_cached = old
        return _umask_cached


def file_mode() -> int:
    """Mode for a new file: what ``open(path, "w")`` would give (``0o666 & ~umask``)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode for a new folder: what ``os.mkdir`` would give (``0o777 & ~umask``)."""
    return 0o777 & ~current_umask()


def _clean(o):
    # numpy is not imported for this: without it loaded there are no numpy values to convert, and
    # commands such as ``validate`` start without paying for it
    np = sys.modules.get("numpy")
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) or (np is not None and isinstance(o, np.floating)):
        f = float(o)
        return None if math.isnan(f) or math.isinf(f) else f
    if np is None:
        return o
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    return o


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that want a file name (osmnx, numpy).

    On a clean exit the temporary file gets the umask mode and is renamed over ``path``; on an
    exception it is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        The final file.
    suffix
        Suffix of the temporary file (some writers choose the format by it).

    Yields
    ------
    pathlib.Path
        The temporary file (already created, empty) to write to.

    Examples
    --------
    >>> with atomic_path("g.graphml", suffix=".graphml.part") as tmp:  # doctest: +SKIP
    ...     osmnx.save_graphml(G, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())  # after writing: a writer may have replaced the file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``path``, renamed to ``path`` once filled.

    The folder gets the umask mode (``mkdtemp`` makes it 0700) and so does every file written into
    it; on an exception the folder is removed. ``os.replace`` of a folder fails when ``path`` exists
    and is not empty (an ``OSError`` for the caller).
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield tmp
        fmode = file_mode()
        for f in tmp.rglob("*"):
            os.chmod(f, dir_mode() if f.is_dir() else fmode)
        os.chmod(tmp, dir_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, readable as the umask allows.

    Parameters
    ----------
    path
        The final file; its folder is created if missing.
    data
        The complete contents.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), file_mode())
            fh.write(data)
        if not hasattr(os, "fchmod"):  # Windows: only the read-only bit exists
            os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` atomically (UTF-8 by default)."""
    return write_bytes_atomic(path, text.encode(encoding))


def write_json_atomic(path, obj) -> Path:
    """JSON with NaN/inf written as null (valid JSON for every reader)."""
    return write_text_atomic(path, json.dumps(_clean(obj), ensure_ascii=False, indent=2) + "\n")


def write_csv_atomic(path, df) -> Path:
    """A DataFrame as CSV in UTF-8 with a BOM, so Excel/WPS on Chinese Windows show Chinese names.

    Read it back with ``encoding="utf-8-sig"`` (``csv`` module) or plain ``pandas.read_csv``.
    """
    return write_text_atomic(path, df.to_csv(index=False, float_format="%.4f"), encoding="utf-8-sig")


def savefig_atomic(fig, path, dpi: int | None = None, palette: bool = True) -> Path:
    """Save ``fig`` as PNG atomically at ``settings.figure_dpi`` (150) unless ``dpi`` says otherwise.

    Parameters
    ----------
    fig
        A matplotlib figure.
    path
        The PNG file.
    dpi
        Resolution; default ``dispatch_sim.settings.figure_dpi``.
    palette
        Store an opaque figure as 256-colour palette PNG (no dithering): charts and road maps have few
        colours, so this looks the same and takes a third of the bytes, which keeps ``report.html``
        (figures embedded) small enough to send by message. Figures with transparency stay RGBA. The
        palette is chosen by median cut: octree takes a tenth of the time but turns white into 254 grey.
    """
    from . import settings

    dpi = dpi or settings.figure_dpi
    pixels = _render_tight(fig, dpi)
    data = pixels if isinstance(pixels, bytes) else _encode_png(pixels, dpi, palette)
    if palette and isinstance(pixels, bytes):
        data = _palette_png(data, dpi)
    return write_bytes_atomic(path, data)


def _render_tight(fig, dpi: float):
    """RGBA pixels of ``fig`` at ``dpi``, cropped to its tight bounding box plus ``savefig.pad_inches``.

    What ``savefig(bbox_inches="tight")`` writes, from one layout and one draw instead of two (savefig
    draws once to measure the box, then again to paint; the layout is computed in both). Padding that
    reaches past the figure's edges is the figure's background, as savefig paints it. When drawn content
    itself reaches past the edges (a legend beside the axes), returns the PNG bytes of savefig painting
    that box with the layout just computed: the canvas grows as savefig's own tight box would grow it.
    A figure whose saved background differs from its drawn one (``savefig.facecolor``/``edgecolor``/
    ``transparent`` set, a hidden or outlined figure patch) is left to savefig entirely.
    """
    import contextlib

    import matplotlib as mpl
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import to_rgba

    def style():
        return fig.style() if hasattr(fig, "style") else contextlib.nullcontext()

    with style():  # a background savefig paints otherwise than the figure's own: savefig itself
        rc = mpl.rcParams
        plain = (rc["savefig.facecolor"] == "auto" and rc["savefig.edgecolor"] == "auto"
                 and not rc["savefig.transparent"] and fig.patch.get_visible() and not fig.patch.get_linewidth())
    if not plain:
        buf = _io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        return buf.getvalue()
    old_dpi, old_canvas = fig.dpi, fig.canvas
    try:
        with style():
            canvas = FigureCanvasAgg(fig)
            fig.dpi = dpi
            canvas.draw()
            rgba = np.asarray(canvas.buffer_rgba())
            height, width = rgba.shape[:2]
            box = fig.get_tightbbox(canvas.get_renderer())  # inches, origin bottom left
            box = box.padded(mpl.rcParams["savefig.pad_inches"])
            pad = mpl.rcParams["savefig.pad_inches"] * dpi
            if min(box.x0 * dpi, box.y0 * dpi) < -pad - 0.5 or box.x1 * dpi > width + pad + 0.5 \
                    or box.y1 * dpi > height + pad + 0.5:
                engine = fig.get_layout_engine()  # laid out by the draw above: paint the box as it stands
                if engine is not None:
                    fig.set_layout_engine("none")
                try:
                    buf = _io.BytesIO()
                    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=box)
                finally:
                    if engine is not None:
                        fig.set_layout_engine(engine)
                return buf.getvalue()
            face = np.round(np.array(to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
    finally:
        fig.dpi = old_dpi
        fig.set_canvas(old_canvas)
    w, h = int(box.width * dpi), int(box.height * dpi)
    # its top-left pixel in the drawing; anchored at the bottom edge, as savefig's canvas is (it cuts the
    # leftover fraction of a pixel at the top)
    ox, oy = int(round(box.x0 * dpi)), height - int(round(box.y0 * dpi)) - h
    out = np.empty((h, w, 4), dtype=np.uint8)
    out[:] = face
    y0, y1, x0, x1 = max(oy, 0), min(oy + h, height), max(ox, 0), min(ox + w, width)
    out[y0 - oy:y1 - oy, x0 - ox:x1 - ox] = rgba[y0:y1, x0:x1]
    return out


def _encode_png(rgba, dpi: float, palette: bool) -> bytes:
    """PNG bytes of RGBA pixels: 256-colour palette when opaque and ``palette`` (see
    :func:`savefig_atomic`), else RGB, or RGBA when any pixel is transparent."""
    from PIL import Image

    def png(image) -> bytes:
        out = _io.BytesIO()
        image.save(out, format="PNG", dpi=(dpi, dpi))
        return out.getvalue()

    im = Image.fromarray(rgba, "RGBA")
    if int(rgba[..., 3].min()) < 255:
        return png(im)
    im = im.convert("RGB")
    if not palette:
        return png(im)
    data = png(im.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    # a large palette file may be a figure of many colours (a continuous colour map), where the palette
    # saves nothing: keep the lossless one if it is smaller (charts are far below the size checked)
    if len(data) > PALETTE_CHECK_BYTES:
        full = png(im)
        if len(full) <= len(data):
            return full
    return data


#: Palette PNGs above this size are compared with the lossless PNG and the smaller is kept.
PALETTE_CHECK_BYTES = 200_000


def _palette_png(data: bytes, dpi: float) -> bytes:
    from PIL import Image

    with Image.open(_io.BytesIO(data)) as im:
        if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255:
            return data
        q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = _io.BytesIO()
    q.save(out, format="PNG", dpi=(dpi, dpi))  # optimize=True: ~2% smaller for ten times the encoding time
    return out.getvalue() if out.tell() < len(data) else data


def prepare_out_dir(path: str | Path, label: str = "--out") -> list[Path]:
    """Make sure ``path`` is a folder outputs can be written to, creating it if needed.

    Checked before a command starts, so an unusable output place is one clear line (exit 2) instead of
    a ``FileExistsError`` after an hour of simulation.

    Parameters
    ----------
    path
        The output folder.
    label
        The option that named it, e.g. ``"--out"``, for messages.

    Returns
    -------
    list of pathlib.Path
        Folders created by this call, outermost first (the CLI removes them again, if still empty,
        when the command fails on bad input).

    Raises
    ------
    DispatchSimError
        When ``path`` (or a parent) exists but is not a folder, or the folder cannot be created or
        written to.
    """
    from .errors import DispatchSimError

    path = Path(path)
    text = str(path)
    if "\x00" in text or len(text) > 4096:
        raise DispatchSimError(f"{label}: not a usable folder name")
    missing = []
    p = path
    try:
        while not p.exists():
            if p.is_symlink():
                raise DispatchSimError(f"{label}: {p}: is a broken symbolic link")
            missing.append(p)
            if p.parent == p:
                break
            p = p.parent
        if p.exists() and not p.is_dir():
            what = "a file" if p.is_file() else "not a folder (a device or pipe)"
            raise DispatchSimError(f"{label}: {p}: is {what}; give a folder for the outputs")
    except OSError as exc:
        raise DispatchSimError(f"{label}: {path}: cannot be used ({exc.strerror or type(exc).__name__})") from None
    created = []
    try:
        for d in reversed(missing):
            d.mkdir()
            created.append(d)
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".write-test.", suffix=".part")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        for d in reversed(created):
            try:
                d.rmdir()
            except OSError:
                pass
        raise DispatchSimError(f"{label}: {path}: cannot write there ({exc.strerror or type(exc).__name__}); "
                               "give a folder you can write to") from None
    return created
