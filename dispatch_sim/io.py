"""Atomic output writing: a crash or Ctrl-C never leaves a half-written summary.json behind."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    return o


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path, obj) -> Path:
    """JSON with NaN/inf written as null (valid JSON for every reader)."""
    return write_text_atomic(path, json.dumps(_clean(obj), ensure_ascii=False, indent=2) + "\n")


def write_csv_atomic(path, df) -> Path:
    return write_text_atomic(path, df.to_csv(index=False, float_format="%.4f"))


def savefig_atomic(fig, path) -> Path:
    import io as _io

    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return write_bytes_atomic(path, buf.getvalue())


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
