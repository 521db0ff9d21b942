"""Reading files as planners really write them: encodings, Excel/WPS timestamps, CSV with checks.

Every reader here takes a ``label`` (the scenario field or CLI option that named the file) and raises a
:class:`~dispatch_sim.errors.DispatchSimError` with one line ``label: path: what is wrong (what is
allowed)``; none of them lets a ``UnicodeDecodeError``, ``IsADirectoryError`` or a read of ``/dev/zero``
reach the user.

Trade-offs
----------
* **Encoding.** Excel and WPS on Chinese Windows save CSV as GBK (code page 936); Notepad saves YAML as
  UTF-8 with a BOM or as GBK. We try, in order: a byte-order mark (UTF-8/UTF-16/UTF-32), strict UTF-8,
  then strict GB18030 (a superset of GBK and GB2312) *with a plausibility check* (the decoded text must be
  mostly CJK, ASCII and CJK punctuation; GB18030 accepts most byte soup, so without the check a binary
  file would "decode"), then charset-normalizer's best guess when it is confident. Anything else is
  refused with "save it as UTF-8". Detection is deterministic, so the same file always reads the same way.
* **Limits before parsing.** Only regular files are read (no folders, ``/dev/zero``, FIFOs), and only up to
  a size limit, checked with ``stat`` before a byte is read and again while reading (a file that grows).
* **Never echo a stranger's file.** Errors about the *content* of a file that does not look like the
  expected kind (binary, unknown encoding, a CSV without the expected columns) describe what was expected
  and never quote the file's lines: ``demand.trace: /etc/passwd`` must not print a password file.
* **Timestamps.** :func:`parse_timestamp` accepts the forms Excel and WPS write (see its docstring); a
  timestamp with a UTC offset or ``Z`` is converted to :data:`LOCAL_TZ` (China Standard Time) and made
  naive, because the model works on the local clock (time bands, shifts, hour-of-day profiles).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Sequence

from .errors import DispatchSimError

#: Largest scenario YAML file read (bytes). Real scenarios are a few kB.
MAX_YAML_BYTES = 20 * 1024 * 1024
#: Largest CSV / GeoJSON data file read (bytes): about 2 million report rows.
MAX_DATA_BYTES = 200 * 1024 * 1024
#: Clock that timestamps with an offset (``+08:00``, ``Z``) are converted to.
LOCAL_TZ = timezone(timedelta(hours=8), "CST")
#: Excel's day 0 in the 1900 date system (serial 1 = 1900-01-01, with Excel's 1900 leap-year bug).
EXCEL_EPOCH = datetime(1899, 12, 30)

TIMESTAMP_FORMS = ("2026-03-02 08:00[:00]", "2026/3/2 8:00[:00]", "2026/03/02 08:00:00", "2026.3.2 8:00",
                   "2026年3月2日 8:00 / 8时00分", "2026/3/2 下午 2:00 (上午/下午, AM/PM)", "2026-03-02 (midnight)",
                   "ISO 8601 with T, fractions, Z or +08:00 (converted to UTC+8)",
                   "Excel serial day numbers such as 46083.33 (1900 date system)")

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class TextFile:
    """A decoded text file: its text and the encoding it was read with."""

    path: Path
    text: str
    encoding: str


def check_input_file(path, label: str, *, max_bytes: int | None = None, what: str = "file") -> Path:
    """Check that ``path`` names a readable regular file no larger than ``max_bytes``.

    Parameters
    ----------
    path
        The file.
    label
        Field or option that named it, e.g. ``"demand.trace"``; starts every error line.
    max_bytes
        Size limit (None: no limit).
    what
        What the file should be, for messages (``"CSV report log"``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DispatchSimError
        One line naming the label, the path and the problem.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise DispatchSimError(f"{label}: {_show(p)}: file not found (expected {_a(what)})") from None
    except NotADirectoryError:
        raise DispatchSimError(f"{label}: {_show(p)}: file not found (a part of the path is not a folder)") from None
    except PermissionError:
        raise DispatchSimError(f"{label}: {_show(p)}: permission denied (expected a readable file ({what}))") from None
    except (OSError, ValueError) as exc:
        raise DispatchSimError(f"{label}: {_show(p)}: cannot be read ({_oserr(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DispatchSimError(f"{label}: {_show(p)}: is a folder, expected {_a(what)}")
    if not stat.S_ISREG(st.st_mode):
        raise DispatchSimError(f"{label}: {_show(p)}: is not a regular file (a device, pipe or socket), expected "
                               f"{_a(what)}")
    if max_bytes is not None and st.st_size > max_bytes:
        raise DispatchSimError(f"{label}: {_show(p)}: {st.st_size / 1e6:.1f} MB is larger than the limit for "
                               f"{_a(what)} "
                               f"({max_bytes / 1e6:.0f} MB)")
    if not os.access(p, os.R_OK):
        raise DispatchSimError(f"{label}: {_show(p)}: permission denied (expected a readable file ({what}))")
    return p


def _show(path) -> str:
    """A path for a message: as given, shortened in the middle when very long."""
    t = str(path)
    return t if len(t) <= 240 else t[:120] + "…" + t[-80:]


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" or what.startswith(("OSM", "SVG")) else "a ") + what


def _oserr(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def read_bytes(path, label: str, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of a regular file, refusing folders, devices and files above ``max_bytes``."""
    p = check_input_file(path, label, max_bytes=max_bytes, what=what)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DispatchSimError(f"{label}: {_show(p)}: cannot be read ({_oserr(exc)})") from None
    if len(data) > max_bytes:
        raise DispatchSimError(f"{label}: {_show(p)}: larger than the limit for {_a(what)} ({max_bytes / 1e6:.0f} MB)")
    return data


def _plausible(text: str) -> bool:
    """Mostly letters people write: ASCII, CJK, CJK/fullwidth punctuation, other letters."""
    if not text:
        return True
    bad: float = 0
    for ch in text:
        o = ord(ch)
        if ch in "\t\n\r" or 0x20 <= o < 0x7F:
            continue
        if 0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or 0x3400 <= o <= 0x4DBF:
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "LNPZS" and cat != "Co":
            # other scripts are fine in moderation (names, units); private use and controls are not
            bad += 0.3
            continue
        bad += 1
    return bad <= 0.02 * len(text) + 1


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text in any encoding we read (NUL bytes, many control bytes)."""
    head = data[:65536]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    ctrl = sum(1 for b in head if b < 0x20 and b not in (9, 10, 13, 12))
    return ctrl > 0.01 * len(head) + 1


def decode_text(data: bytes, path, label: str, *, what: str = "text file") -> tuple[str, str]:
    """Decode file bytes, detecting UTF-8 (with or without BOM), UTF-16/32 (BOM), GBK/GB18030.

    Returns
    -------
    (text, encoding)

    Raises
    ------
    DispatchSimError
        "not a text file" or "cannot tell the text encoding ... save it as UTF-8", without quoting
        the file.
    """
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError:
                raise DispatchSimError(f"{label}: {_show(path)}: starts like {enc.upper()} but is not valid "
                                       f"{enc.upper()}; "
                                       "save it as UTF-8") from None
    if data.startswith(_ZIP) or data.startswith(_OLE):
        raise DispatchSimError(f"{label}: {_show(path)}: looks like an Excel/WPS workbook or other binary file, "
                               f"expected {_a(what)}; "
                               "in Excel use 'Save as' → 'CSV UTF-8 (comma delimited)'")
    if looks_binary(data):
        raise DispatchSimError(f"{label}: {_show(path)}: not {_a(what)} (binary content)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
        if _plausible(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:1_000_000]).best()
        if best is not None and best.chaos < 0.1:
            text = data.decode(best.encoding)
            if _plausible(text):
                return text, best.encoding
    except Exception:  # noqa: BLE001 - a detector failure means "unknown encoding", reported below
        pass
    raise DispatchSimError(f"{label}: {_show(path)}: cannot tell the text encoding of this {what} (not UTF-8 or GBK); "
                           "save it as UTF-8 (in Excel: 'CSV UTF-8'; in Notepad/WPS: encoding UTF-8)")


def read_text(path, label: str, *, max_bytes: int = MAX_DATA_BYTES, what: str = "text file") -> TextFile:
    """Read a text file with encoding detection (see :func:`decode_text`) and the size limit."""
    data = read_bytes(path, label, max_bytes=max_bytes, what=what)
    text, enc = decode_text(data, path, label, what=what)
    return TextFile(Path(path), text, enc)


# ------------------------------------------------------------------------------------------ CSV

def _norm_header(h: str) -> str:
    return (h or "").strip().strip("\ufeff").strip().lower()


def read_csv(path, label: str, *, required: list[str], optional: Sequence[str] = (),
             aliases: dict[str, str] | None = None, what: str = "CSV file",
             max_bytes: int = MAX_DATA_BYTES) -> tuple[list[str], list[tuple[int, dict]]]:
    """Read a CSV with detected encoding and delimiter, checking its header before anything else.

    Parameters
    ----------
    path, label
        The file and the field that named it.
    required, optional
        Column names (lower case) the file must / may have. Other columns are ignored.
    aliases
        Other header spellings → column name, e.g. ``{"经度": "lon", "时间": "timestamp"}``.
    what
        Description for messages, e.g. ``"CSV report log with columns timestamp, lon, lat"``.

    Returns
    -------
    (columns, rows)
        ``rows`` are ``(line_number, {column: text})`` with stripped values.

    Raises
    ------
    DispatchSimError
        If the file is not a CSV with the required columns. The header is quoted only when it looks
        like a CSV header (several comma-, semicolon- or tab-separated names); a file of another kind
        is described, not quoted.
    """
    tf = read_text(path, label, max_bytes=max_bytes, what=what)
    text = tf.text
    first = text.split("\n", 1)[0]
    delim = ","
    for d in (",", "\t", ";"):
        if d in first:
            delim = d
            break
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader, None)
    except csv.Error:
        header = None
    aliases = {_norm_header(k): v for k, v in (aliases or {}).items()}
    if not header:
        raise DispatchSimError(f"{label}: {_show(path)}: empty file, expected {_a(what)}")
    cols = [aliases.get(_norm_header(h), _norm_header(h)) for h in header]
    missing = [c for c in required if c not in cols]
    if missing:
        looks_csv = len(header) >= 2 and all(0 < len(h.strip()) <= 40 and "\x00" not in h for h in header) \
            and len(header) <= 60
        if looks_csv and any(c in cols for c in list(required) + list(optional)):
            got = ", ".join(h.strip() for h in header)
            opt = "; optional " + ", ".join(optional) if optional else ""
            raise DispatchSimError(f"{label}: {_show(path)}: missing column(s) {', '.join(missing)}; the file has "
                                   f"{got} (needs {', '.join(required)}{opt})")
        raise DispatchSimError(f"{label}: {_show(path)}: not {_a(what)} (first line is not a header with "
                               f"{', '.join(required)})")
    rows = []
    try:
        for i, rec in enumerate(reader, start=2):
            if not rec or all(not x.strip() for x in rec):
                continue
            rows.append((i, {c: (rec[j].strip() if j < len(rec) else "") for j, c in enumerate(cols)}))
    except csv.Error as exc:
        raise DispatchSimError(f"{label}: {_show(path)}: line {reader.line_num}: not valid CSV ({exc})") from None
    return cols, rows


def parse_float(text: str, *, low: float | None = None, high: float | None = None) -> float:
    """A finite float from a CSV cell (a decimal comma is not accepted: it is the column separator).

    Raises
    ------
    ValueError
        With a short message for the caller to prefix with file and line.
    """
    t = (text or "").strip().replace("\u2212", "-")
    if not t:
        raise ValueError("empty")
    if len(t) > 40:
        raise ValueError("not a number (too long)")
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"not a number: {t!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {t!r}")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{t} is outside {low}..{high}")
    return v


# ---------------------------------------------------------------------------------- timestamps

_CN = str.maketrans({"年": "-", "月": "-", "日": " ", "时": ":", "分": ":", "秒": " ", "点": ":", "/": "-", ".": "-",
                     "：": ":", "\u3000": " ", "T": " "})
_DT = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\s+(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2})(?:[.,](\d{1,6}))?)?:?)?$")


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp as Excel, WPS and platform exports write it; returns a naive local datetime.

    Accepted forms (see :data:`TIMESTAMP_FORMS`): ``2026-03-02 08:00[:00]``, ``2026/3/2 8:00``,
    ``2026/03/02 08:00:00``, ``2026.3.2 8:00``, ``2026年3月2日 8:00`` or ``8时00分``, with ``上午``/``下午``
    or ``AM``/``PM``, a date alone (midnight), ISO 8601 (``T``, fractions of a second, ``Z`` or an offset,
    converted to :data:`LOCAL_TZ`), and Excel serial day numbers (``46083.33``: days since 1899-12-30;
    accepted between 1 and 2958465, i.e. up to 9999-12-31). Month/day-first forms (``3/2/2026``) are
    refused, since ``3/2`` is ambiguous.

    Raises
    ------
    ValueError
        "not a timestamp" (the caller adds file and line).
    """
    t = (text or "").strip()
    if not t:
        raise ValueError("empty timestamp")
    if len(t) > 64:
        raise ValueError("not a timestamp (too long)")
    if re.fullmatch(r"\d{1,7}(\.\d+)?", t) and not re.fullmatch(r"\d{8}", t):
        serial = float(t)
        if not 1 <= serial < 2958466:
            raise ValueError(f"{t!r} is not a timestamp (as an Excel day number it is out of range)")
        return EXCEL_EPOCH + timedelta(seconds=round(serial * 86400))
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
        if dt.tzinfo is not None:
            dt = dt.astimezone(LOCAL_TZ).replace(tzinfo=None)
        return dt
    except ValueError:
        pass
    s = t
    pm = am = False
    for word, flag in (("下午", "pm"), ("晚上", "pm"), ("上午", "am"), ("凌晨", "am"), ("早上", "am"),
                       ("中午", "noon")):
        if word in s:
            s = s.replace(word, " ")
            pm, am = (flag == "pm"), (flag == "am")
            if flag == "noon":
                pm = True
    m_ampm = re.search(r"\s*\b(am|pm|AM|PM|a\.m\.|p\.m\.)\s*$", s)
    if m_ampm:
        pm = m_ampm.group(1).lower().startswith("p")
        am = not pm
        s = s[:m_ampm.start()]
    s = re.sub(r"\s+", " ", s.translate(_CN)).strip()
    m = _DT.match(s)
    if not m:
        raise ValueError(f"{t!r} is not a timestamp (accepted: 2026-03-02 08:00, 2026/3/2 8:00, 2026年3月2日 8:00, "
                         "ISO 8601, Excel day numbers)")
    y, mo, d, hh, mi, ss, frac = m.groups()
    hour = int(hh or 0)
    if (am or pm) and hour > 12 and not pm:
        raise ValueError(f"{t!r} is not a timestamp (hour {hour} in the morning)")
    if pm and hour < 12:
        hour += 12
    if am and hour == 12:
        hour = 0
    try:
        return datetime(int(y), int(mo), int(d), hour, int(mi or 0), int(ss or 0), int((frac or "0").ljust(6, "0")[:6]))
    except ValueError as exc:
        raise ValueError(f"{t!r} is not a valid date/time ({exc})") from None


# ------------------------------------------------------------------------------------ report logs and points

#: Chinese and other common header spellings of a report log (platform exports, Excel sheets).
TRACE_ALIASES = {"时间": "timestamp", "上报时间": "timestamp", "发生时间": "timestamp", "time": "timestamp",
                 "datetime": "timestamp", "经度": "lon", "纬度": "lat", "lng": "lon", "longitude": "lon",
                 "latitude": "lat", "坐标系": "crs", "类别": "category", "类型": "category", "事件类型": "category"}
POINTS_ALIASES = {"经度": "lon", "纬度": "lat", "lng": "lon", "longitude": "lon", "latitude": "lat",
                  "坐标系": "crs", "权重": "weight"}
TRACE_WHAT = "CSV report log with columns timestamp, lon, lat"
POINTS_WHAT = "CSV of points with columns lon, lat"


def read_trace_file(path, category_names, label: str = "demand.trace"):
    """Parse a report log CSV (no snapping): ``[(naive local datetime, lon, lat, crs, category index)]``.

    Encoding (UTF-8 or GBK), timestamps as Excel/WPS write them and Chinese headers are accepted (see
    :mod:`dispatch_sim.readers`); every problem is one line naming the file and the line.
    """
    path = Path(path)
    names = {c: i for i, c in enumerate(category_names)}
    _, recs = read_csv(path, label, required=["timestamp", "lon", "lat"], optional=["crs", "category"],
                       aliases=TRACE_ALIASES, what=TRACE_WHAT)
    rows = []
    for line, row in recs:
        try:
            ts = parse_timestamp(row["timestamp"])
            lon = parse_float(row["lon"], low=-180, high=180)
            lat = parse_float(row["lat"], low=-90, high=90)
        except ValueError as exc:
            raise DispatchSimError(f"{label}: {_show(path)}: line {line}: {exc}") from None
        crs = (row.get("crs") or "wgs84").strip().lower() or "wgs84"
        if crs not in ("wgs84", "gcj02", "bd09"):
            raise DispatchSimError(f"{label}: {_show(path)}: line {line}: crs {crs[:20]!r} not one of wgs84, gcj02, "
                                   "bd09")
        catname = (row.get("category") or "").strip()
        if catname and catname not in names:
            raise DispatchSimError(f"{label}: {_show(path)}: line {line}: category {catname[:40]!r} is not in "
                                   f"demand.categories (allowed: {', '.join(names)})")
        rows.append((ts, lon, lat, crs, names.get(catname, 0)))
    if not rows:
        raise DispatchSimError(f"{label}: {_show(path)}: no reports in the file")
    return rows


def read_points_csv(path: Path, label: str):
    """Read a ``kind: points`` CSV (lon, lat, optional crs, weight) with the checks of :func:`read_trace_file`."""
    import numpy as np  # only here: validate reads scenarios without numpy

    lab = f"{label}.path"
    _, recs = read_csv(path, lab, required=["lon", "lat"], optional=["crs", "weight"], aliases=POINTS_ALIASES,
                       what=POINTS_WHAT)
    lon, lat, crs, wt = [], [], [], []
    for line, row in recs:
        try:
            lon.append(parse_float(row["lon"], low=-180, high=180))
            lat.append(parse_float(row["lat"], low=-90, high=90))
            wt.append(parse_float(row.get("weight") or "1", low=0, high=1e12))
        except ValueError as exc:
            raise DispatchSimError(f"{lab}: {_show(path)}: line {line}: {exc}") from None
        c = (row.get("crs") or "wgs84").strip().lower() or "wgs84"
        if c not in ("wgs84", "gcj02", "bd09"):
            raise DispatchSimError(f"{lab}: {_show(path)}: line {line}: crs {c[:20]!r} not one of wgs84, gcj02, bd09")
        crs.append(c)
    if not lon:
        raise DispatchSimError(f"{lab}: {_show(path)}: no points")
    if sum(wt) <= 0:
        raise DispatchSimError(f"{lab}: {_show(path)}: all weights are zero")
    return np.asarray(lon), np.asarray(lat), crs, np.asarray(wt)
