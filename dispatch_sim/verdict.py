"""Does the promise hold? The one rule every command uses to judge targets, written down once.

The 30-minute promise (30分钟到场) is made by each township to the residents of its own area, so a
scenario's targets are judged for every township (the home team of the report's place) as well as
for the district. ``run``, ``check``, ``stress``, ``compare``, ``place`` and the report all call
:func:`judge`; ``docs/ci_gating.md`` states the same rule in words.

The rule
--------
For one area (a township or the district) and one target:

1. **Evidence.** The area needs at least ``min_reports`` promise-bearing reports with a known
   outcome. Fewer, and the target is **undecided** ("not enough reports", with the count): never a
   silent pass. By default the count depends on the target: for an on-time rate, the smallest count
   for which a perfect record could meet that area's goal under the judging rule (35 reports for
   90% judged on the lower bound of the 95% Wilson interval, 73 for 95%); for a response quantile
   q, the smallest n with 1 − qⁿ ≥ 0.975 (36 for p90, 72 for p95), so that its interval has an
   upper end. "Undecided" means the reports could not have shown it.
2. **Judged value.** With ``judge: lower_bound`` (the default), the on-time rate is judged on the
   lower end of its 95% interval (the pooled Wilson interval; from 5 replications on, also the
   between-replication interval, whichever is lower) and a response-time quantile on the upper end
   of its distribution-free 95% interval. With ``judge: point``, on the estimates.
3. **Met or missed.** Met when the judged value satisfies the target, else missed.

An area with fewer reports is still **missed** when even those show it: the upper end of the
rate's interval (the lower end of a quantile's) is past the target.

The verdict **HOLDS** when no target is missed anywhere (undecided townships are named beside it),
**BREAKS** when one is, and names every area that misses; **UNDECIDED** when nothing is missed but
the district itself has too few reports. ``targets.scope: district`` restores a
district-only judgement (per-team targets still apply).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .metrics import wilson
from .results import Metrics

#: From this many replications on, the between-replication interval also bounds the on-time rate
#: (the more conservative of the two lower bounds); below it, the pooled Wilson interval alone.
MIN_REPS_FOR_BETWEEN_CI = 5
#: Fewest reports to judge a target under ``judge: point`` when ``targets.min_reports`` is not set.
MIN_REPORTS_POINT = 20

DISTRICT = "district"
#: Reason of a missed target whose estimate meets it while the judged interval end does not.
NOT_SHOWN = ("not shown: the estimate meets the target but its 95% interval reaches past it "
             "(judge: lower_bound); more replications or days narrow the interval")
MET, MISSED, UNDECIDED = "met", "missed", "undecided"


@dataclass(frozen=True)
class TargetResult:
    """One target judged for one area."""

    area: str  #: township (team) name, or "district"
    target: str  #: on_time_rate | p90_response | p95_response
    required: str  #: e.g. ">= 0.9" or "<= 30 min"
    threshold: float
    value: float | None  #: the judged value (interval end or estimate)
    estimate: float | None
    interval: tuple[float, float] | None
    reports: int
    status: str  #: met | missed | undecided
    reason: str = ""

    @property
    def passed(self) -> bool | None:
        """True when met, False when missed, None when undecided."""
        return {MET: True, MISSED: False}.get(self.status)

    @property
    def name(self) -> str:
        return self.target if self.area == DISTRICT else f"{self.area}.{self.target}"

    def to_json(self) -> dict:
        d = asdict(self)
        d["interval"] = list(self.interval) if self.interval else None
        d["name"] = self.name
        d["passed"] = self.passed
        return d


@dataclass(frozen=True)
class Verdict:
    """The judgement of a run: every target in every area, and the sentence a planner reads."""

    status: str  #: HOLDS | BREAKS | NO TARGETS | NO REPORTS
    rows: tuple[TargetResult, ...]
    scope: str
    min_reports: int
    townships: dict = field(default_factory=dict)

    @property
    def holds(self) -> bool | None:
        return {"HOLDS": True, "BREAKS": False}.get(self.status)

    def missed(self) -> list[TargetResult]:
        return [r for r in self.rows if r.status == MISSED]

    def undecided(self) -> list[TargetResult]:
        return [r for r in self.rows if r.status == UNDECIDED]

    def failing_townships(self) -> list[str]:
        return [t for t, v in self.townships.items() if v["status"] == MISSED]

    def undecided_townships(self) -> list[str]:
        return [t for t, v in self.townships.items() if v["status"] == UNDECIDED]


def default_min_reports(goal: float | None, judge: str) -> int:
    """Fewest reports with which a perfect record could meet an on-time goal under ``judge``."""
    if judge != "lower_bound":
        return MIN_REPORTS_POINT
    if goal is None or goal <= 0:
        return 1
    n = 1
    while wilson(n, n)[0] < goal - 1e-12 and n < 100_000:
        n += 1
    return n


def min_reports_quantile(q: float, judge: str) -> int:
    """Fewest reports whose largest value bounds the q-quantile with 97.5% confidence
    (1 − qⁿ ≥ 0.975: 36 for p90, 72 for p95), so an upper interval end exists to judge on."""
    if judge != "lower_bound":
        return MIN_REPORTS_POINT
    import math

    return int(math.ceil(math.log(0.025) / math.log(q)))


def _rate_row(area: str, block: dict, goal: float, judge: str, use_between: bool, min_n: int) -> TargetResult:
    n = int(block.get("known_outcome") or 0)
    rate = block.get("rate")
    ci = block.get("ci95")
    between = block.get("ci95_between_replications") if use_between else None
    interval = tuple(ci) if ci else None
    required = f">= {goal:g}"
    if n < min_n or rate is None:
        if interval and interval[1] < goal:  # even few reports show it misses
            return TargetResult(area, "on_time_rate", required, goal, interval[1], rate, interval, n, MISSED,
                                f"misses even on {n} reports: the upper end of the 95% interval is below the target")
        return TargetResult(area, "on_time_rate", required, goal, None, rate, interval, n, UNDECIDED,
                            f"not enough reports: {n} (at least {min_n} needed to judge)")
    if judge == "lower_bound":
        lows = [x for x in ((ci or [None])[0], (between or [None])[0]) if x is not None and x == x]
        value = min(lows) if lows else None
    else:
        value = rate
    ok = value is not None and value >= goal - 1e-12
    reason = NOT_SHOWN if not ok and rate >= goal else ""
    return TargetResult(area, "on_time_rate", required, goal, value, rate, interval, n, MET if ok else MISSED, reason)


def _quantile_row(area: str, block: dict, key: str, limit: float, judge: str, min_n: int) -> TargetResult:
    resp = block.get("response_min") or {}
    n = int(block.get("known_outcome") or 0)
    est = resp.get(key)
    ci = resp.get(f"{key}_ci95")
    interval = tuple(ci) if ci and ci[0] is not None else None
    required = f"<= {limit:g} min"
    if n < min_n or est is None or est != est:
        if interval and interval[0] is not None and interval[0] > limit:  # even few reports show it misses
            return TargetResult(area, f"{key}_response", required, limit, interval[0], est, interval, n, MISSED,
                                f"misses even on {n} reports: the lower end of the 95% interval is above the target")
        return TargetResult(area, f"{key}_response", required, limit, None, est, interval, n, UNDECIDED,
                            f"not enough reports: {n} (at least {min_n} needed to judge)")
    value = (interval[1] if interval else None) if judge == "lower_bound" else est
    ok = value is not None and value == value and value <= limit + 1e-12
    reason = NOT_SHOWN if not ok and est <= limit else ""
    return TargetResult(area, f"{key}_response", required, limit, value, est, interval, n, MET if ok else MISSED,
                        reason)


def judge(summary: Metrics, scenario) -> Verdict:
    """Judge the scenario's targets on a run summary (see the module docstring for the rule).

    Parameters
    ----------
    summary
        The run's :class:`~dispatch_sim.results.Metrics` (``RunResult.summary`` is one).
    scenario
        The :class:`~dispatch_sim.scenario.Scenario` whose ``targets`` are judged.
    """
    t = scenario.targets
    scope = getattr(t, "scope", "township")
    fixed = getattr(t, "min_reports", None)
    min_n = fixed if fixed is not None else default_min_reports(t.on_time_rate_min, t.judge)

    def need_rate(goal):  # per area: its own goal decides how many reports can show it
        return fixed if fixed is not None else default_min_reports(goal, t.judge)

    def need_q(q):
        return fixed if fixed is not None else min_reports_quantile(q, t.judge)

    use_between = len(summary.reports.get("per_replication", {})) >= MIN_REPS_FOR_BETWEEN_CI
    district_block = {**summary.on_time, "response_min": summary.response_min}

    def rows_for(area, block, rate_goal, p90, p95):
        out = []
        if rate_goal is not None:
            out.append(_rate_row(area, block, rate_goal, t.judge, use_between, need_rate(rate_goal)))
        if p90 is not None:
            out.append(_quantile_row(area, block, "p90", p90, t.judge, need_q(0.9)))
        if p95 is not None:
            out.append(_quantile_row(area, block, "p95", p95, t.judge, need_q(0.95)))
        return out

    rows: list[TargetResult] = rows_for(DISTRICT, district_block, t.on_time_rate_min, t.p90_response_max_min,
                                        t.p95_response_max_min)
    townships = {}
    for team in scenario.teams:
        if team.backup:
            continue
        block = summary.by_team.get(team.name)
        if block is None:
            continue
        own = t.per_team.get(team.name)
        if scope == "township":
            goal = own.on_time_rate_min if own and own.on_time_rate_min is not None else t.on_time_rate_min
            p90 = own.p90_response_max_min if own and own.p90_response_max_min is not None else t.p90_response_max_min
            p95 = t.p95_response_max_min
        else:
            goal, p90, p95 = (own.on_time_rate_min, own.p90_response_max_min, None) if own else (None, None, None)
        team_rows = rows_for(team.name, block, goal, p90, p95)
        rows.extend(team_rows)
        statuses = {r.status for r in team_rows}
        status = MISSED if MISSED in statuses else UNDECIDED if UNDECIDED in statuses else MET if team_rows else None
        townships[team.name] = {
            "status": status, "rate": block.get("rate"), "ci95": block.get("ci95"),
            "reports": int(block.get("known_outcome") or 0),
            "p90_min": (block.get("response_min") or {}).get("p90"),
            "targets": {r.target: {"status": r.status, "value": r.value, "estimate": r.estimate,
                                   "required": r.required, "reason": r.reason} for r in team_rows},
        }
    if not rows:
        status = "NO TARGETS"
    elif not int(summary.on_time.get("known_outcome") or 0):
        status = "NO REPORTS"
    elif any(r.status == MISSED for r in rows):
        status = "BREAKS"
    elif any(r.status == UNDECIDED for r in rows if r.area == DISTRICT):
        status = "UNDECIDED"
    else:
        status = "HOLDS"
    return Verdict(status, tuple(rows), scope, min_n, townships)


def _pct(x) -> str:
    return "–" if x is None else f"{x * 100:.1f}%"


def _ci(ci) -> str:
    return "" if not ci or ci[0] is None else f" ({ci[0] * 100:.1f}–{ci[1] * 100:.1f}%)"


def verdict_text(v: Verdict, summary: Metrics, lang: str = "en") -> str:
    """The verdict sentence for console, report and ``summary.json``, in ``lang`` (zh or en)."""
    from .i18n import catalog

    T = catalog(lang)
    sep = "; " if lang == "en" else "；"
    ot = summary.on_time
    district = T("verdict.district", rate=_pct(ot.get("rate")), ci=_ci(ot.get("ci95")),
                 target=f"{ot.get('target_min'):g}")

    def names_of(keys):
        return ", ".join(T(f"target.{k}") for k in keys) if lang == "en" else "、".join(T(f"target.{k}") for k in keys)

    n_town = len(v.townships)
    if v.status == "NO REPORTS":
        return T("verdict.no_reports")
    if v.status == "NO TARGETS":
        return T("verdict.no_targets", district=district)
    if v.status == "UNDECIDED":
        und = [r for r in v.rows if r.area == DISTRICT and r.status == UNDECIDED]
        return T("verdict.undecided", n=und[0].reports, need=v.min_reports, district=district)
    parts = []
    fail = v.failing_townships()
    dmiss = [r.target for r in v.rows if r.area == DISTRICT and r.status == MISSED]
    if v.status == "BREAKS":
        if fail:
            names = []
            for t in fail:
                tw = v.townships[t]
                missed = [k for k, x in tw["targets"].items() if x["status"] == MISSED]
                shown = [k for k in missed if tw["targets"][k]["reason"] != NOT_SHOWN]
                if not shown:
                    extra = " [" + T("verdict.not_shown", what=names_of(missed)) + "]"
                else:
                    extra = "" if missed == ["on_time_rate"] else " [" + T("verdict.missed",
                                                                           what=names_of(missed)) + "]"
                names.append(f"{t} {_pct(tw['rate'])}{_ci(tw['ci95'])}{extra}")
            parts.append(T("verdict.breaks_in", k=len(fail), n=n_town) + (": " if lang == "en" else "：")
                         + sep.join(names))
            parts.append(district + (T("verdict.district_misses", what=names_of(dmiss)) if dmiss else ""))
        else:
            parts.append(T("verdict.breaks_district",
                           what=names_of(dmiss)) + (": " if lang == "en" else "：") + district)
    else:
        met = sum(1 for x in v.townships.values() if x["status"] == MET)
        if v.scope == "district":
            head = T("verdict.holds_district")
        elif met == n_town:
            head = T("verdict.holds_all", n=n_town)
        else:
            head = T("verdict.holds_some", met=met, n=n_town)
        parts.append(head + (": " if lang == "en" else "：") + district)
    undecided = v.undecided_townships()
    if undecided:
        parts.append(T("verdict.undecided_list", k=len(undecided),
                       names=(", " if lang == "en" else "、").join(f"{t} ({v.townships[t]['reports']})"
                                                                   for t in undecided)))
    return sep.join(parts)


def verdict_json(v: Verdict, summary: Metrics, lang: str = "en") -> dict:
    """The ``verdict`` object of ``summary.json``: ``text`` in the report's language, ``text_en``
    always in English."""
    return {
        "holds": v.holds, "status": v.status, "text": verdict_text(v, summary, lang),
        "text_en": verdict_text(v, summary, "en"), "lang": lang, "scope": v.scope,
        "min_reports": v.min_reports,
        "failing_townships": v.failing_townships(), "undecided_townships": v.undecided_townships(),
        "townships": v.townships,
        "rule": ("each target judged for every township (home team of the report's place) and the district; "
                 "undecided below min_reports reports; on-time rate on the lower end of its 95% interval, "
                 "response quantiles on the upper end (judge: lower_bound) or on the estimates (judge: point); "
                 "HOLDS when nothing is missed"),
    }
