"""Helpers every writer shares: compact GeoJSON, and a folder that shows one run of a command."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..io import _clean, write_text_atomic

log = logging.getLogger("dispatch_sim")


def write_geojson(path, fc: dict) -> Path:
    """GeoJSON without indentation (a third of the size, written by json's C encoder; GIS tools do not
    need it pretty); NaN and inf are written as null."""
    try:
        text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):  # numpy values, NaN or inf somewhere: the slower, converting way
        text = json.dumps(_clean(fc), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return write_text_atomic(path, text + "\n")


def own_folder(out_dir: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Remove files an earlier run of the same command left in ``out_dir`` (by name pattern), so
    the folder shows one run only. Returns what was removed."""
    removed = []
    for pat in patterns:
        for f in sorted(out_dir.glob(pat)):
            if f.is_file():
                f.unlink()
                removed.append(f)
    if removed:
        log.info("removed %d file(s) of an earlier run from %s", len(removed), out_dir)
    return removed
