"""Report logs as the township platform (基层治理四平台) exports them: read, map, screen, quarantine.

A log is the planners' own record of what happened: one row per grid report with when it was reported,
where, of what kind, and, for dispatched reports, when a team was sent, arrived and closed it. This
module turns such an export into typed columns (:class:`ReportLog`) and a **quarantine**: every row
that cannot be used, with the reason, so that ``used + quarantined = rows in the file`` always holds
and nothing is dropped silently.

Trade-offs
----------
* **Headers by synonym, not by position.** Exports differ between platform versions and counties
  (``上报时间`` or ``事件上报时间`` or ``reported_at``); columns are matched by a built-in synonym table
  (:data:`SYNONYMS`, compared after removing spaces, brackets and units such as ``(WGS84)``), which a
  small YAML/JSON mapping file can extend (``columns: {reported_at: 受理时间}``). An unknown header is
  ignored, a missing required one (report time, longitude, latitude) is one line naming what was found.
* **Title rows.** Excel/WPS exports often put a title (``南湖区事件清单``) above the header; the header is
  the first of the first 20 rows that names at least three known fields.
* **CSV or XLSX.** CSV goes through :mod:`dispatch_sim.readers` (UTF-8/GBK detection, size limits);
  XLSX is read with openpyxl in read-only mode from the first sheet that has a header. Cells that
  Excel stores as dates are used as such; numbers in a time column are Excel serial days; text goes
  through :func:`~dispatch_sim.readers.parse_timestamp`. ``.xls`` (the pre-2007 format) is refused with
  "save as .xlsx or CSV" rather than read half right.
* **Screening is two-stage.** Reading checks what the file alone can tell (times present and in
  order, coordinates numeric, duplicates). Whether a point is *in the district* needs the district
  (a boundary polygon, else the road graph's extent) and the coordinate system, so
  :meth:`ReportLog.locate` does that later and adds to the same quarantine.
* **Unreadable optional fields** (an arrival time that is not a time) do not quarantine the row: its
  report time and place still count for demand. They are counted per field in :attr:`ReportLog.notes`
  and printed, so the loss is visible.
* **Duplicates.** Same report id, or (when there is no id) same report time, place and category: the
  first is kept, later ones are quarantined as "duplicate of line N".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DispatchSimError
from .geodesy import M_PER_DEG_LAT, m_per_deg_lon
from .names import match_team, team_lookup  # noqa: F401  (re-exported for calibrate)
from .readers import EXCEL_EPOCH, MAX_DATA_BYTES, _show, decode_text, parse_float, parse_timestamp, read_bytes

#: Fields of a report log, in output order.
FIELDS = ("report_id", "reported_at", "category", "township", "lon", "lat", "crs", "dispatched_at", "arrived_at",
          "closed_at", "team", "priority")
TIME_FIELDS = ("reported_at", "dispatched_at", "arrived_at", "closed_at")
REQUIRED = ("reported_at", "lon", "lat")

#: Header spellings of each field (compared after :func:`_norm`). Extend with a mapping file.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "report_id": ("report_id", "id", "event_id", "case_id", "编号", "事件编号", "事件编码", "案件编号", "工单编号",
                  "序号id"),
    "reported_at": ("reported_at", "report_time", "timestamp", "time", "datetime", "created_at", "上报时间",
                    "事件上报时间",
                    "时间", "发生时间", "受理时间", "登记时间", "创建时间"),
    "category": ("category", "type", "event_type", "事件类型", "类别", "类型", "事件类别", "事项类型", "问题类型",
                 "事件分类"),
    "township": ("township", "town", "street", "所属镇街", "镇街", "所属街道", "所属镇街道", "街道", "乡镇街道",
                 "属地"),
    "lon": ("lon", "lng", "longitude", "x", "经度", "坐标经度", "事件经度"),
    "lat": ("lat", "latitude", "y", "纬度", "坐标纬度", "事件纬度"),
    "crs": ("crs", "coordinate_system", "坐标系", "坐标系统"),
    "dispatched_at": ("dispatched_at", "dispatch_time", "派遣时间", "派单时间", "分派时间", "指派时间"),
    "arrived_at": ("arrived_at", "arrival_time", "on_scene_at", "到场时间", "到达时间", "到达现场时间", "签到时间"),
    "closed_at": ("closed_at", "close_time", "finished_at", "办结时间", "结案时间", "处置完成时间", "完成时间"),
    "team": ("team", "crew", "handling_team", "处置队伍", "处置单位", "承办单位", "执法队伍", "处置中队"),
    "priority": ("priority", "优先级", "紧急程度"),
}

#: CRS words as platforms write them.
CRS_WORDS = {"wgs84": "wgs84", "wgs-84": "wgs84", "wgs_84": "wgs84", "gps": "wgs84", "epsg:4326": "wgs84",
             "4326": "wgs84",
             "gcj02": "gcj02", "gcj-02": "gcj02", "gcj_02": "gcj02", "火星坐标": "gcj02", "高德": "gcj02",
             "amap": "gcj02",
             "国测局": "gcj02", "bd09": "bd09", "bd-09": "bd09", "bd_09": "bd09", "百度": "bd09", "baidu": "bd09",
             "bd09ll": "bd09"}

#: Report-to-arrival or report-to-close gaps longer than this are not believed (a typo in a year or month).
MAX_GAP_DAYS = 30.0
#: Rows of a file scanned for the header.
HEADER_SCAN_ROWS = 20
#: Largest XLSX read (bytes of the compressed workbook); the uncompressed sheet is bounded by MAX_CELLS.
MAX_XLSX_BYTES = 60 * 1024 * 1024
MAX_CELLS = 20_000_000

WHAT = "report log (CSV or XLSX with columns for report time, longitude and latitude)"


def _norm(h) -> str:
    """Header for matching: lower case, no spaces/underscores/brackets, no unit or CRS suffix."""
    t = str(h if h is not None else "").strip().strip("\ufeff").lower()
    t = re.sub(r"[\(（\[【].*?[\)）\]】]", "", t)
    t = re.sub(r"[\s_\-:：/\.]", "", t)
    return t


_SYN: dict[str, str] = {}
for _f, _names in SYNONYMS.items():
    for _n in _names:
        _SYN.setdefault(_norm(_n), _f)


@dataclass
class Mapping:
    """How a particular export names things: column headers, its CRS, category and township names.

    Read from a small YAML or JSON file::

        columns: {reported_at: 受理时间, team: 处置部门}
        crs: gcj02
        categories: {市容环境: city_appearance}
        townships: {解放: 解放街道}
    """

    columns: dict[str, str] = field(default_factory=dict)
    crs: str | None = None
    categories: dict[str, str] = field(default_factory=dict)
    townships: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path, label: str = "--mapping") -> "Mapping":
        from .readers import read_text
        from .scenario import parse_yaml_text

        tf = read_text(path, label, max_bytes=1_000_000, what="mapping file (YAML or JSON)")
        try:
            data = parse_yaml_text(tf.text, f"{label}: {_show(path)}")
        except DispatchSimError as exc:
            raise DispatchSimError(str(exc).splitlines()[0]) from None
        if not isinstance(data, dict):
            raise DispatchSimError(f"{label}: {_show(path)}: expected a mapping with columns, crs, categories, "
                                   "townships")
        bad = sorted(set(map(str, data)) - {"columns", "crs", "categories", "townships"})
        if bad:
            raise DispatchSimError(f"{label}: {_show(path)}: unknown key(s) {', '.join(b[:30] for b in bad[:5])} "
                                   "(allowed: columns, crs, categories, townships)")
        out = cls()
        for key in ("columns", "categories", "townships"):
            v = data.get(key) or {}
            if not isinstance(v, dict) or not all(isinstance(a, (str, int)) and isinstance(b, (str, int))
                                                  for a, b in v.items()):
                raise DispatchSimError(f"{label}: {_show(path)}: {key}: expected name: name pairs")
            setattr(out, key, {str(a): str(b) for a, b in v.items()})
        bad_cols = sorted(set(out.columns) - set(FIELDS))
        if bad_cols:
            raise DispatchSimError(f"{label}: {_show(path)}: columns: unknown field(s) "
                                   f"{', '.join(b[:30] for b in bad_cols[:5])} "
                                   f"(allowed: {', '.join(FIELDS)})")
        if data.get("crs") is not None:
            out.crs = normalise_crs(str(data["crs"]), label)
        return out


def normalise_crs(text: str, label: str = "--crs") -> str:
    """``wgs84``/``gcj02``/``bd09`` (or ``auto``) from the ways exports write them."""
    t = str(text).strip().lower().replace(" ", "")
    if t == "auto":
        return "auto"
    if t in CRS_WORDS:
        return CRS_WORDS[t]
    raise DispatchSimError(f"{label}: {text[:40]!r} is not a coordinate system (allowed: wgs84, gcj02, bd09, auto)")


@dataclass
class ReportLog:
    """A report log read from an export.

    Attributes
    ----------
    path
        The file.
    rows
        Data rows in the file (blank lines not counted; a line of empty cells is a row).
    records
        Usable rows: ``line`` (line or sheet row number), :data:`FIELDS` (times as ``datetime64``,
        ``lon``/``lat`` as given, ``lon_wgs``/``lat_wgs`` after :meth:`locate`).
    quarantine
        Unusable rows: ``line``, ``reason`` and the row's cells as text.
    columns
        Field → header it was read from.
    encoding
        Text encoding of a CSV (``xlsx`` for a workbook).
    notes
        Counts of optional cells that could not be read (kept rows), e.g. ``{"arrived_at unreadable": 3}``.
    crs
        Coordinate system the coordinates are in, once known; ``crs_how`` says how it was decided.
    """

    path: Path
    rows: int
    records: pd.DataFrame
    quarantine: list[dict]
    columns: dict[str, str]
    encoding: str
    notes: dict[str, int] = field(default_factory=dict)
    crs: str | None = None
    crs_how: str = ""
    crs_scores: dict = field(default_factory=dict)

    @property
    def used(self) -> int:
        return int(len(self.records))

    def quarantine_frame(self) -> pd.DataFrame:
        cols = ["line", "reason"] + [f for f in FIELDS if f in self.columns]
        df = pd.DataFrame(self.quarantine, columns=cols) if self.quarantine else pd.DataFrame(columns=cols)
        return df.sort_values("line", kind="stable") if len(df) else df

    def drop(self, mask: np.ndarray, reason) -> int:
        """Move the records where ``mask`` holds to the quarantine with ``reason`` (text, or one per row)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return 0
        sub = self.records[mask]
        reasons = [reason] * len(sub) if isinstance(reason, str) else list(np.asarray(reason, dtype=object)[mask])
        for (_, r), why in zip(sub.iterrows(), reasons):
            self.quarantine.append({"line": int(r["line"]), "reason": why, **{f: _cell_text(r.get(f)) for f in FIELDS
                                                                              if f in self.columns}})
        self.records = self.records[~mask].reset_index(drop=True)
        return int(mask.sum())

    def counts(self) -> dict:
        """Rows, used, quarantined by reason (reasons grouped by their text before any ':'), notes."""
        by: dict[str, int] = {}
        for q in self.quarantine:
            key = str(q["reason"]).split(":")[0]
            by[key] = by.get(key, 0) + 1
        return {"rows": self.rows, "used": self.used, "quarantined": len(self.quarantine),
                "quarantined_by_reason": dict(sorted(by.items(), key=lambda kv: -kv[1])), "notes": dict(self.notes),
                "crs": self.crs, "crs_how": self.crs_how, "encoding": self.encoding, "columns": dict(self.columns)}

    def check_accounting(self) -> None:
        """``used + quarantined == rows``; a failure here is a bug, never the user's input."""
        assert self.used + len(self.quarantine) == self.rows, (self.used, len(self.quarantine), self.rows)

    # ---------------------------------------------------------------- coordinates and district
    def locate(self, crs: str | None, *, district=None, extent=None, locator=None) -> None:
        """Convert coordinates to WGS-84 and quarantine points outside the district.

        Parameters
        ----------
        crs
            ``wgs84``/``gcj02``/``bd09``; ``None`` or ``auto``: a ``crs`` column if the log has one,
            else detected with ``locator`` (the system whose points lie closest to the road graph,
            when clearly better than the others), else WGS-84 with a note.
        district
            A shapely polygon (WGS-84): points outside it (plus 300 m) are quarantined.
        extent
            ``(west, south, east, north)`` used when there is no polygon (plus 1 km).
        locator
            A :class:`~dispatch_sim.locate.NodeLocator` for the detection.
        """
        from .crs import to_wgs84

        df = self.records
        lon = df["lon"].to_numpy(dtype=float)
        lat = df["lat"].to_numpy(dtype=float)
        per_row = df["crs"].fillna("").astype(str).to_numpy() if "crs" in df else np.full(len(df), "", dtype=object)
        if crs in (None, "auto") and (per_row != "").any():
            self.crs, self.crs_how = "per row", "the log's coordinate-system column (rows without one: WGS-84)"
            chosen = np.where(per_row == "", "wgs84", per_row)
        else:
            if crs in (None, "auto"):
                crs, self.crs_how, self.crs_scores = detect_crs(lon, lat, locator)
            else:
                self.crs_how = "stated"
            self.crs = crs
            chosen = np.full(len(df), crs, dtype=object)
        wl = np.full(len(df), np.nan)
        wa = np.full(len(df), np.nan)
        for c in ("wgs84", "gcj02", "bd09"):
            sel = chosen == c
            if sel.any():
                x, y = to_wgs84(lon[sel], lat[sel], c)
                wl[sel], wa[sel] = np.atleast_1d(x), np.atleast_1d(y)
        df = df.copy()
        df["lon_wgs"], df["lat_wgs"] = wl, wa
        self.records = df
        if district is not None:
            import shapely

            inside = shapely.contains_xy(district.buffer(300 / 111000.0), wl, wa)
            self.drop(~inside, "outside the district: the point lies outside the district boundary (check its "
                               "coordinate system)")
        elif extent is not None:
            w, s, e, n = extent
            dx, dy = 1000 / m_per_deg_lon((s + n) / 2), 1000 / M_PER_DEG_LAT
            inside = (wl >= w - dx) & (wl <= e + dx) & (wa >= s - dy) & (wa <= n + dy)
            self.drop(~inside, "outside the district: the point lies outside the road graph's extent (check its "
                               "coordinate system)")
        self.require_rows()

    def require_rows(self, label: str = "LOG") -> None:
        """Bad input, not a crash, when screening has left no usable row (e.g. every point outside the district)."""
        if self.used == 0:
            top = self.counts()["quarantined_by_reason"]
            raise DispatchSimError(f"{label}: {_show(self.path)}: none of the {self.rows} rows is usable ("
                                   + "; ".join(f"{n} {k}" for k, n in list(top.items())[:3])
                                   + "); allowed: report points inside the district, in wgs84, gcj02 or bd09")


def detect_crs(lon, lat, locator, sample: int = 400) -> tuple[str, str, dict]:
    """Which coordinate system puts the points nearest the roads.

    Reported places lie on or beside roads; converted from the right system they are metres from the
    graph, from a wrong one about 500 m (GCJ-02) or 1 km (BD-09) off. The median snap distance of up to
    ``sample`` points is computed for each system; the best wins when it is under 0.6 times the next.
    Without a locator (or with an unclear result) WGS-84 is assumed and the reason says so.
    """
    from .crs import to_wgs84

    if locator is None or len(lon) == 0:
        return "wgs84", "assumed WGS-84 (not stated; nothing to detect it against): state it with --crs", {}
    idx = np.linspace(0, len(lon) - 1, min(sample, len(lon))).astype(int)
    scores = {}
    for c in ("wgs84", "gcj02", "bd09"):
        x, y = to_wgs84(np.asarray(lon)[idx], np.asarray(lat)[idx], c)
        _, snap, _, _ = locator.snap_many(np.atleast_1d(x), np.atleast_1d(y), strict=False)
        snap = np.where(np.asarray(snap) >= 0, snap, np.nan)
        scores[c] = float(np.nanmedian(snap)) if np.isfinite(snap).any() else float("inf")
    order = sorted(scores, key=lambda k: scores[k])
    best, second = order[0], order[1]
    med = {k: round(v, 1) for k, v in scores.items()}
    if scores[best] < 0.6 * scores[second]:
        return best, (f"detected: median distance to the road graph {med[best]:g} m as {best.upper()} against "
                      f"{med[second]:g} m as {second.upper()}"), med
    return "wgs84", (f"assumed WGS-84: the points are about as near the roads in every system ({med}); state it "
                     "with --crs"), med


# --------------------------------------------------------------------------------------- reading

def read_log(path, *, mapping: Mapping | None = None, label: str = "LOG") -> ReportLog:
    """Read a platform export (CSV or XLSX) into a :class:`ReportLog`.

    Parameters
    ----------
    path
        The file.
    mapping
        Extra header names, a stated CRS and name mappings (:class:`Mapping`).
    label
        What named the file, for messages (``LOG``, ``--log``).

    Raises
    ------
    DispatchSimError
        One line when the file as a whole cannot be used: not a file, not a table, no header with a
        report time and coordinates, no data rows, or no usable row at all.
    """
    mapping = mapping or Mapping()
    p = Path(path)
    data = read_bytes(p, label, max_bytes=MAX_DATA_BYTES, what=WHAT)
    if data.startswith(b"PK\x03\x04"):
        table, encoding = _xlsx_rows(p, data, label), "xlsx"
    elif data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise DispatchSimError(f"{label}: {_show(p)}: an old Excel .xls workbook (or another OLE file); save it as "
                               ".xlsx "
                               "or as CSV UTF-8 and try again")
    else:
        text, encoding = decode_text(data, p, label, what=WHAT)
        table = _csv_rows(text)
    return _parse_table(p, table, encoding, mapping, label)


def _csv_rows(text: str) -> list[tuple[int, list]]:
    import csv
    import io

    lines = text.splitlines()
    first = next((ln for ln in lines[:HEADER_SCAN_ROWS] if ln.strip()), "")
    counts = {d: sum(ln.count(d) for ln in lines[:HEADER_SCAN_ROWS]) for d in (",", "\t", ";")}
    delim = max(counts, key=lambda k: counts[k]) if any(counts.values()) else ","
    if first and "," in first and counts[","] > 0:
        delim = "," if first.count(",") >= max(first.count("\t"), first.count(";")) else delim
    out = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    line = 1
    try:
        for rec in reader:
            out.append((line, rec))
            line = reader.line_num + 1
    except csv.Error:
        # a broken quote: read the rest line by line so no row is lost from the count
        rest = text.splitlines()[line - 1:]
        for k, ln in enumerate(rest):
            out.append((line + k, ln.split(delim)))
    return [(ln, rec) for ln, rec in out if rec and not (len(rec) == 1 and rec[0] == "")]


def _xlsx_rows(p: Path, data: bytes, label: str) -> list[tuple[int, list]]:
    import io
    import warnings
    import zipfile

    if len(data) > MAX_XLSX_BYTES:
        raise DispatchSimError(f"{label}: {_show(p)}: workbook larger than {MAX_XLSX_BYTES / 1e6:.0f} MB; export it as "
                               "CSV")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        total = sum(i.file_size for i in zf.infolist())
        if total > 40 * MAX_XLSX_BYTES:
            raise DispatchSimError(f"{label}: {_show(p)}: the workbook unpacks to {total / 1e9:.1f} GB; export it as "
                                   "CSV")
        if "xl/workbook.xml" not in zf.namelist():
            raise DispatchSimError(f"{label}: {_show(p)}: a ZIP file but not an XLSX workbook, expected a {WHAT}")
    except zipfile.BadZipFile:
        raise DispatchSimError(f"{label}: {_show(p)}: not a readable XLSX workbook (damaged ZIP)") from None
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a declared dependency
        raise DispatchSimError(f"{label}: {_show(p)}: reading XLSX needs openpyxl (pip install openpyxl), or save as "
                               "CSV") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            best = None
            for ws in wb.worksheets:
                rows = []
                cells = 0
                for i, r in enumerate(ws.iter_rows(values_only=True), start=1):
                    cells += len(r)
                    if cells > MAX_CELLS:
                        raise DispatchSimError(f"{label}: {_show(p)}: more than {MAX_CELLS:,} cells; export it as CSV")
                    if r is None or all(c is None or (isinstance(c, str) and not c.strip()) for c in r):
                        continue
                    rows.append((i, list(r)))
                if _find_header(rows, Mapping())[0] is not None:
                    best = rows
                    break
                if best is None:
                    best = rows
            wb.close()
    except DispatchSimError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure of a hostile workbook is "unreadable"
        raise DispatchSimError(f"{label}: {_show(p)}: not a readable XLSX workbook ({type(exc).__name__})") from None
    return best or []


def _find_header(table, mapping: Mapping):
    extra = {_norm(v): k for k, v in mapping.columns.items()}
    for k, (_ln, rec) in enumerate(table[:HEADER_SCAN_ROWS]):
        cols = {}
        for j, h in enumerate(rec):
            n = _norm(h)
            f = extra.get(n) or _SYN.get(n)
            if f and f not in cols:
                cols[f] = j
        if len(cols) >= 3 and "reported_at" in cols or all(f in cols for f in REQUIRED):
            return k, cols
    return None, None


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (pd.Timestamp, datetime)):
        return "" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")
    t = str(v)
    return t if len(t) <= 200 else t[:200] + "…"


def _time_cell(v) -> datetime:
    if isinstance(v, datetime):
        return v.replace(tzinfo=None) if v.tzinfo is None else parse_timestamp(v.isoformat())
    if isinstance(v, bool):
        raise ValueError("not a timestamp")
    if isinstance(v, (int, float)):
        if not (isinstance(v, int) or math.isfinite(v)) or not 1 <= v < 2958466:
            raise ValueError(f"{v!r} is not a timestamp")
        return EXCEL_EPOCH + timedelta(seconds=round(float(v) * 86400))
    return parse_timestamp(str(v))


def _num_cell(v, low, high) -> float:
    if isinstance(v, bool):
        raise ValueError("not a number")
    if isinstance(v, (int, float)):
        v = float(v)
        if not math.isfinite(v) or not low <= v <= high:
            raise ValueError(f"{v} is outside {low}..{high}")
        return v
    return parse_float(str(v).replace("°", "").replace("，", ""), low=low, high=high)


def _parse_table(p: Path, table, encoding: str, mapping: Mapping, label: str) -> ReportLog:  # noqa: C901 - row checks in sequence
    if not table:
        raise DispatchSimError(f"{label}: {_show(p)}: empty file, expected a {WHAT}")
    k, cols = _find_header(table, mapping)
    if k is None:
        first = table[0][1]
        looks = 2 <= len(first) <= 80 and all(isinstance(h, str) and 0 < len(h.strip()) <= 40
                                              for h in first if h is not None)
        if looks and any(_SYN.get(_norm(h)) for h in first):
            found = [f"{h} → {_SYN[_norm(h)]}" for h in first if _SYN.get(_norm(h))]
            raise DispatchSimError(f"{label}: {_show(p)}: the header lacks a report time, longitude or latitude column "
                                   f"(recognised: {', '.join(found[:8])}); name them e.g. 上报时间/reported_at, "
                                   "经度/lon, "
                                   "纬度/lat, or map them with --mapping")
        raise DispatchSimError(f"{label}: {_show(p)}: no header row with report time, longitude and latitude columns "
                               "in "
                               f"the first {HEADER_SCAN_ROWS} rows; expected a {WHAT} (headers such as 上报时间, 经度, "
                               "纬度)")
    missing = [f for f in REQUIRED if f not in cols]
    if missing:
        header = [str(h)[:30] for h in table[k][1] if h is not None]
        raise DispatchSimError(f"{label}: {_show(p)}: missing column(s) for {', '.join(missing)}; the header has "
                               f"{', '.join(header[:20])} (map them with --mapping, e.g. columns: {{lon: 经度}})")
    header = table[k][1]
    columns = {f: str(header[j]).strip() for f, j in cols.items()}
    data_rows = table[k + 1:]
    recs, quarantine = [], []
    notes: dict[str, int] = {}
    seen_id: dict = {}
    seen_key: dict = {}
    cat_map, town_map = mapping.categories, mapping.townships

    def cell(rec, f):
        j = cols.get(f)
        if j is None or j >= len(rec):
            return None
        v = rec[j]
        if isinstance(v, str):
            v = v.strip()
            return v or None
        return v

    for line, rec in data_rows:
        raw = {f: _cell_text(cell(rec, f)) for f in FIELDS if f in cols}

        def bad(reason, line=line, raw=raw):  # this row's line and cells, bound explicitly
            quarantine.append({"line": line, "reason": reason, **raw})

        if all(c is None or (isinstance(c, str) and not c.strip()) for c in rec):
            bad("empty row: no cells filled")
            continue
        v = cell(rec, "reported_at")
        if v is None:
            bad("no report time: the report-time cell is empty")
            continue
        try:
            t_rep = _time_cell(v)
        except ValueError as exc:
            bad(f"report time unreadable: {str(exc)[:120]}")
            continue
        if not 1990 <= t_rep.year <= 2100:
            bad(f"report time implausible: year {t_rep.year}")
            continue
        try:
            lon = _num_cell(cell(rec, "lon"), -180, 180)
            lat = _num_cell(cell(rec, "lat"), -90, 90)
        except ValueError as exc:
            bad(f"no usable coordinates: {str(exc)[:120]}")
            continue
        if abs(lon) < 1e-9 and abs(lat) < 1e-9:
            bad("no usable coordinates: (0, 0) is a placeholder, not a place")
            continue
        if 15 <= lon <= 60 and 70 <= lat <= 140:
            bad("no usable coordinates: longitude and latitude look swapped")
            continue
        row = {"line": line, "reported_at": t_rep, "lon": lon, "lat": lat}
        for f in ("dispatched_at", "arrived_at", "closed_at"):
            v = cell(rec, f)
            if v is None:
                row[f] = None
                continue
            try:
                row[f] = _time_cell(v)
            except ValueError:
                row[f] = None
                notes[f"{f} unreadable (treated as missing)"] = notes.get(f"{f} unreadable (treated as missing)", 0) + 1
        crs_cell = cell(rec, "crs")
        if crs_cell is not None:
            try:
                row["crs"] = normalise_crs(str(crs_cell))
                if row["crs"] == "auto":
                    raise DispatchSimError("auto")
            except DispatchSimError:
                bad(f"unknown coordinate system: {str(crs_cell)[:30]!r} (allowed: wgs84, gcj02, bd09)")
                continue
        else:
            row["crs"] = mapping.crs or ""
        for f in ("report_id", "category", "township", "team", "priority"):
            v = cell(rec, f)
            row[f] = None if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))[:200]
        if row["category"] is not None:
            row["category"] = cat_map.get(row["category"], row["category"])
        if row["township"] is not None:
            row["township"] = town_map.get(row["township"], row["township"])
        # order of the times
        why = _order_problem(row)
        if why:
            bad(why)
            continue
        key_id = row["report_id"]
        if key_id is not None:
            if key_id in seen_id:
                bad(f"duplicate: same report id as line {seen_id[key_id]}")
                continue
            seen_id[key_id] = line
        key = (t_rep, round(lon, 6), round(lat, 6), row["category"])
        if key in seen_key and key_id is None:
            bad(f"duplicate: same report time, place and category as line {seen_key[key]}")
            continue
        seen_key.setdefault(key, line)
        recs.append(row)
    rows = len(data_rows)
    df = pd.DataFrame(recs, columns=["line", *FIELDS])
    for f in TIME_FIELDS:
        df[f] = pd.to_datetime(df[f], errors="coerce")
    for f in ("lon", "lat"):
        df[f] = df[f].astype(float)
    log = ReportLog(p, rows, df, quarantine, columns, encoding, notes)
    if rows == 0:
        raise DispatchSimError(f"{label}: {_show(p)}: the header was found but there are no data rows")
    if log.used == 0:
        top = log.counts()["quarantined_by_reason"]
        raise DispatchSimError(f"{label}: {_show(p)}: none of the {rows} rows is usable ("
                               + "; ".join(f"{n} {k}" for k, n in list(top.items())[:3]) + ")")
    log.check_accounting()
    return log


def _order_problem(row) -> str | None:
    t0 = row["reported_at"]
    seq = [("dispatched_at", "dispatch"), ("arrived_at", "arrival"), ("closed_at", "close")]
    last_name, last_t = "report", t0
    for f, name in seq:
        t = row.get(f)
        if t is None:
            continue
        if t < t0:
            return (f"{name} before report: {name} {t:%Y-%m-%d %H:%M:%S} is earlier than the report "
                    f"{t0:%Y-%m-%d %H:%M:%S}")
        if t < last_t:
            return (f"{name} before {last_name}: {name} {t:%Y-%m-%d %H:%M:%S} is earlier than {last_name} "
                    f"{last_t:%Y-%m-%d %H:%M:%S}")
        if (t - t0).total_seconds() > MAX_GAP_DAYS * 86400:
            return f"{name} implausibly late: more than {MAX_GAP_DAYS:g} days after the report"
        last_name, last_t = name, t
    return None


# --------------------------------------------------------------------------- names against a scenario

#: Chinese category names of the shipped scenarios (comments in nanhu_baseline.yaml).
CATEGORY_SYNONYMS = {"市容环境": "city_appearance", "市容": "city_appearance", "占道经营": "city_appearance",
                     "违法建设": "illegal_construction", "违章建筑": "illegal_construction", "环境保护": "environment",
                     "环保": "environment", "安全隐患": "safety_hazard", "噪声扰民": "noise_nuisance",
                     "噪音扰民": "noise_nuisance", "日常巡查": "routine_followup", "回访": "routine_followup",
                     "跟踪回访": "routine_followup"}


def category_lookup(scenario) -> dict[str, int]:
    names = [c.name for c in scenario.demand.categories]
    out = {n: i for i, n in enumerate(names)}
    out.update({n.lower(): i for i, n in enumerate(names)})
    for zh, en in CATEGORY_SYNONYMS.items():
        if en in names:
            out.setdefault(zh, names.index(en))
    return out


def write_quarantine(log: ReportLog, path) -> Path:
    """The quarantine as CSV (UTF-8 with BOM for Excel/WPS): line, reason and the row's cells."""
    from .io import write_csv_atomic

    return write_csv_atomic(path, log.quarantine_frame())


def to_json_counts(log: ReportLog) -> str:
    return json.dumps(log.counts(), ensure_ascii=False)
