"""Typed results of the API: what ``run``, ``stress``, ``compare``, ``place`` and ``staff`` compute.

Each is a frozen dataclass with :meth:`to_json`, which gives the JSON document the command writes
(``summary.json``, ``stress.json``, ``compare.json``, ``placement.json``, ``staffing.json``), keys in
field order. Fields marked ``json=False`` (the runs behind a comparison, the cell maps of a sweep,
the variant scenario of a proposal) are for the API and the writers, not the document.

The top level is typed; the blocks below it (a township's on-time block, one row of a sweep) stay
plain dicts with the shape ``docs/outputs.md`` describes, so a figure can be drawn as well from a
result as from the file it was written to.

A notebook reads ``result.summary.on_time["rate"]``, ``sweep.breaking_point.max_load_meeting_target``
or ``cmp.decision.text``; ``to_json()`` gives the dict the file holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

#: Metadata of a field that is not part of the JSON document.
API_ONLY = {"json": False}
#: Metadata of a field that is left out of the document when it is None (a block only some scenarios have).
OPTIONAL_BLOCK = {"omit_if_none": True}


def _plain(x: Any) -> Any:
    if is_dataclass(x) and hasattr(x, "to_json"):
        return x.to_json()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


class JsonResult:
    """Mixin: :meth:`to_json` of a dataclass, in field order, without ``API_ONLY`` fields."""

    def to_json(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)  # type: ignore[arg-type]
                if f.metadata.get("json", True)
                and not (f.metadata.get("omit_if_none") and getattr(self, f.name) is None)}


def shallow(obj) -> dict:
    """The fields of a dataclass as a dict, values as they are (no copies, no conversion)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


# ------------------------------------------------------------------------------------ run

@dataclass(frozen=True)
class RunMeta(JsonResult):
    """What was run: scenario name and file, seed, replications, load, policy, road graph."""

    scenario: str
    scenario_file: str | None
    seed: int
    replications: int
    load: float
    policy: str
    graph: dict


@dataclass(frozen=True)
class Metrics(JsonResult):
    """The measured figures of a set of replications (:func:`dispatch_sim.metrics.summarize`).

    Attributes
    ----------
    reports
        Counts: total, served, open at the horizon, warm-up excluded, without the promise, ...
        (every report is accounted for: ``total == served + open_at_horizon``).
    on_time
        District on-time rate of reports under the promise, with Wilson and between-replication
        95% intervals and the counts behind them.
    response_min
        Response-time quantiles (minutes) with intervals.
    by_team
        Per team: the same blocks for its township's reports, utilization, committed share, waits,
        mutual aid given and received.
    """

    reports: dict
    on_time: dict
    response_min: dict
    by_team: dict
    by_hour: list
    late_causes: dict
    crew_utilization: dict
    crew_committed: dict
    utilization_note: str
    wait_min: dict
    move_ups: int | None
    mutual_aid: dict | None
    #: scenic-area and district teams, referrals, joint checks, planned inspections (only when used)
    enforcement: dict | None = field(default=None, metadata=OPTIONAL_BLOCK)


@dataclass(frozen=True)
class RunSummary(Metrics, RunMeta):
    """A run's summary: :class:`RunMeta` then :class:`Metrics` (``summary.json`` before the writer
    adds provenance, targets, verdict, warnings and weak places)."""

    @classmethod
    def of(cls, meta: RunMeta, metrics: Metrics) -> "RunSummary":
        return cls(**shallow(meta), **shallow(metrics))


# ------------------------------------------------------------------------------------ stress

@dataclass(frozen=True)
class BreakingPoint(JsonResult):
    """The largest load at which the scenario's verdict holds and the first at which it breaks."""

    max_load_meeting_target: float | None
    first_load_failing: float | None
    reports_per_day_at_max: float | None
    failing_townships_at_first_failing_load: list[str]
    rule: str


@dataclass(frozen=True)
class TownshipLoads(JsonResult):
    """One township over the sweep: the highest load it meets the target, the first it misses, and
    loads with too few reports to judge."""

    max_load_met: float | None
    first_load_missed: float | None
    undecided_loads: list[float]


@dataclass(frozen=True)
class StressResult(JsonResult):
    """A load sweep under common random numbers (:func:`dispatch_sim.experiments.stress_sweep`)."""

    scenario: str
    target_on_time_rate: float
    judge: str
    scope: str
    min_reports: dict
    replications: int
    seed: int
    coupling_load: float
    graph: dict
    loads_swept: list[float]
    breaking_point: BreakingPoint
    district_only: dict
    townships: dict[str, TownshipLoads]
    team_max_load_meeting_target: dict
    worst_cells_at_first_failing_load: list
    team_note: str
    #: one row per load evaluated (sweep and bisection): rates, intervals, verdict, per township
    sweep: list[dict]
    #: per-cell reliability (GeoJSON) at the last load that holds and the first that fails
    cells: dict = field(default_factory=dict, metadata=API_ONLY)


# ------------------------------------------------------------------------------------ compare

@dataclass(frozen=True)
class Decision(JsonResult):
    """What a comparison says: the sentence, whether the district difference is significant, and
    the townships significantly better or worse in B."""

    text: str
    significant: bool
    townships_better: list[str]
    townships_worse: list[str]


@dataclass(frozen=True)
class Comparison(JsonResult):
    """Variant B against A under common random numbers (:func:`dispatch_sim.experiments.compare`)."""

    a: dict
    b: dict
    graph: dict
    replications: int
    seed: int
    difference_b_minus_a: dict
    by_township: dict
    decision: Decision
    mutual_aid_in_a: dict | None
    mutual_aid_in_b: dict | None
    #: the two runs (:class:`~dispatch_sim.experiments.RunResult`), A then B
    runs: tuple = field(default=(), metadata=API_ONLY, repr=False)


# ------------------------------------------------------------------------------------ place and staff

@dataclass(frozen=True)
class PlacementProposal(JsonResult):
    """New or moved posts from the covering model (:func:`dispatch_sim.placement.propose`);
    ``verification`` and ``recommendation`` are filled by :func:`dispatch_sim.placement.finish`."""

    proposal: dict
    scenario: Any = field(metadata=API_ONLY, repr=False)
    sites: list = field(default_factory=list, metadata=API_ONLY, repr=False)
    cover: Any = field(default=None, metadata=API_ONLY, repr=False)
    weight: Any = field(default=None, metadata=API_ONLY, repr=False)
    verification: Comparison | None = field(default=None, metadata=API_ONLY)
    recommendation: dict | None = field(default=None, metadata=API_ONLY)

    def to_json(self) -> dict:
        """``placement.json``: the proposal, then the verification and the recommendation."""
        out = dict(_plain(self.proposal))
        if self.verification is not None:
            out["verification"] = self.verification.to_json()
        if self.recommendation is not None:
            out["recommendation"] = self.recommendation
        return out
