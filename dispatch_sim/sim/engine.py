"""The one SimPy engine: reports arrive, crews cycle, shifts change; a dispatcher decides.

Processes are plain generator functions (:func:`report_source`, :func:`crew_cycle`,
:func:`shift_manager`, :func:`reopenings`). They own the clock and the events, and talk to the
dispatcher only through the narrow interface of :class:`Dispatcher`:

- ``dispatch(rid, now) -> (crew, wait)``: a report reaches the dispatcher; the crew sent (``-1``:
  queued) and the minutes until it will have cleared the scene;
- ``clear(crew, now) -> wait``: the crew cleared its scene; minutes until its next job clears, or
  ``-1`` when it heads back to base;
- ``shift_change(team, count, now)`` and ``retry_idle(now)`` (a road closure ended): the crews they
  send out, as ``[(crew, wait), ...]``;
- ``close_books(now)``: at the horizon, put the last busy, return and on-duty minutes into the
  shared outcome arrays (:mod:`dispatch_sim.sim.layout`);
- with planned inspections, ``plan_change(team, reactive, planned, now)`` instead of ``shift_change``;
  with joint checks, ``drain_woken()`` after every call (``dispatch`` returns crew ``-2`` for a joint
  check; a crew held for one returns ``-1`` from ``clear`` and is woken by the crew that completes it).
  Scenarios without them run the plain processes, unchanged.

Two dispatchers implement it: :class:`~dispatch_sim.sim.readable.ReadableDispatcher` (crews as
objects, any :class:`~dispatch_sim.policies.Policy`) and
:class:`~dispatch_sim.sim.compiled.CompiledDispatcher` (the built-in policies in numba, about three
times faster). Both write every outcome into the same arrays, so :func:`run_replication` builds the
:class:`ReplicationResult` once, whichever decided.

Drive and on-scene work are one wait: nothing is decided at the moment of arrival, so the arrival
time is booked rather than scheduled, and a job costs a crew one event. A return trip to base needs
no event either: a free crew's position is evaluated lazily when a dispatch decision asks for it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np
import simpy

from ..speeds import parse_hhmm
from .layout import CrewF, RepF, RepI, crew_float_array, report_arrays

if TYPE_CHECKING:
    from ..demand import Reports


class World(Protocol):
    """What the engine and the dispatchers read of a :class:`dispatch_sim.model.World` (which the
    simulation never imports): the scenario, the time bands, the router and the bases' router
    indices."""

    scenario: Any
    bands: Any
    router: Any
    base_idx: np.ndarray


# ------------------------------------------------------------------------------------ results

@dataclass
class ReplicationResult:
    """What one replication produced: per report (dispatch, arrival, clearing, team, crew, drive,
    queued) and per crew (busy, on-duty and return minutes)."""

    replication: int
    reports: "Reports"
    dispatched_min: np.ndarray
    arrived_min: np.ndarray
    cleared_min: np.ndarray
    team: np.ndarray
    crew: np.ndarray
    travel_min: np.ndarray
    queued: np.ndarray
    crew_names: list[str]
    crew_team: np.ndarray
    crew_busy_min: np.ndarray
    crew_duty_min: np.ndarray
    horizon_min: float
    warmup_min: float
    events: int = 0
    extra: dict = field(default_factory=dict)
    #: minutes each crew drove back to base while on duty; committed time = busy + this
    crew_return_min: np.ndarray | None = None


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of one replication: independent of how many workers run the replications."""
    return np.random.SeedSequence([int(seed), int(replication)])


@dataclass(frozen=True)
class Roster:
    """Every crew of the scenario, team by team: crew ``c`` is crew ``k[c]`` of team ``team[c]``.
    Both dispatchers number crews this way."""

    names: list[str]
    team: np.ndarray
    k: np.ndarray

    @classmethod
    def of(cls, scenario) -> "Roster":
        rows = [(i, k, f"{t.name}#{k + 1}") for i, t in enumerate(scenario.teams) for k in range(t.max_crews())]
        return cls([r[2] for r in rows], np.array([r[0] for r in rows], dtype=np.int64),
                   np.array([r[1] for r in rows], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Outcome:
    """The arrays a dispatcher writes its outcomes into (layout: :mod:`dispatch_sim.sim.layout`):
    reports' inputs and outputs (``rep_i``, ``rep_f``) and crews' float columns (``crew_f``)."""

    rep_i: np.ndarray
    rep_f: np.ndarray
    crew_f: np.ndarray

    @classmethod
    def empty(cls, reports: "Reports", n_crews: int) -> "Outcome":
        rep_i, rep_f = report_arrays(reports)
        return cls(rep_i, rep_f, crew_float_array(n_crews))


# ------------------------------------------------------------------------------------ the interface

Woken = list[tuple[int, float]]


class Dispatcher(ABC):
    """What the engine asks of a dispatcher (see the module docstring).

    Subclasses get the world, the replication's reports, the roster and the outcome arrays. The
    engine calls the methods below at the current simulated time ``now`` (minutes); it never reads
    the dispatcher's own state. A subclass may bind ``dispatch`` and ``clear`` as instance
    attributes (plain callables with the same signature) to spare a Python call per event.
    """

    #: Extra figures for :attr:`ReplicationResult.extra` (e.g. move-ups)
    extra: dict

    def __init__(self, world: "World", reports: "Reports", roster: Roster, out: Outcome):
        self.world = world
        self.reports = reports
        self.roster = roster
        self.out = out
        self.extra = {}

    @abstractmethod
    def dispatch(self, rid: int, now: float) -> tuple[int, float]:
        """Report ``rid`` is ready: ``(crew, minutes until it clears)``, or ``(-1, 0.0)`` if queued."""

    @abstractmethod
    def clear(self, crew: int, now: float) -> float:
        """``crew`` cleared its scene: minutes until its next job clears, or ``-1`` if it heads back."""

    @abstractmethod
    def shift_change(self, team: int, count: int, now: float) -> Woken:
        """The first ``count`` crews of ``team`` on duty, the rest off: the crews sent out."""

    @abstractmethod
    def retry_idle(self, now: float) -> Woken:
        """A road closure has ended: idle crews at base take reports they can now reach."""

    @abstractmethod
    def close_books(self, now: float) -> None:
        """At the horizon: jobs on scene count as arrived; busy, return, on-duty time up to ``now``."""

    def plan_change(self, team: int, count: int, planned: int, now: float) -> Woken:
        """Planned inspections: the first ``count`` crews of ``team`` in reactive service, the next
        ``planned`` on the inspection, the rest off. Only dispatchers that implement campaigns have it."""
        raise NotImplementedError(f"{type(self).__name__} has no planned inspections")

    def drain_woken(self) -> Woken:
        """Joint checks: crews held for a joint check that the last call completed, to wake now
        (``dispatch`` returns crew ``-2`` when it filed a joint check)."""
        return []


# ------------------------------------------------------------------------------------ processes

class Wakeup(simpy.Event):
    """What an idle crew waits for: the dispatcher triggers it for the moment the crew will have
    cleared its job (arrival plus on-scene work), so a job costs the crew one event, not two.

    SimPy's own :class:`simpy.Timeout` is an event scheduled with a delay when it is created; this
    one is scheduled with a delay when the dispatcher decides, the same way (value, ``ok``, then
    :meth:`simpy.Environment.schedule`). This relies on SimPy 4's ``Event`` attributes; the
    dependency is pinned to SimPy 4.
    """

    __slots__ = ()

    def succeed_in(self, delay: float, value=None) -> "Wakeup":
        if self._value is not simpy.events.PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        self.env.schedule(self, simpy.events.NORMAL, delay)
        return self


def report_source(env: simpy.Environment, ready: list[float], dispatch: Callable, wake: list):
    """Hand each report to the dispatcher at the moment the platform has processed it."""
    timeout = env.timeout
    for rid in range(len(ready)):
        delay = ready[rid] - env.now
        if delay > 0:
            yield timeout(delay)
        crew, wait = dispatch(rid, env.now)
        if crew >= 0:
            wake[crew].succeed_in(wait)


def crew_cycle(env: simpy.Environment, crew: int, clear: Callable, wake: list):
    """A crew's life: wait for a job; when it clears, take the next one (the dispatcher says how long
    it takes) or head back and wait again. The first job's wait is the wake-up itself."""
    timeout = env.timeout
    while True:
        wake[crew] = Wakeup(env)
        yield wake[crew]
        wait = clear(crew, env.now)
        while wait >= 0:
            yield timeout(wait)
            wait = clear(crew, env.now)


def report_source_joint(env: simpy.Environment, ready: list[float], d: Dispatcher, wake: list):
    """:func:`report_source` for scenarios with joint checks: a joint check wakes every crew that
    completed it (``dispatch`` returns crew -2 and the crews are in ``d.drain_woken()``)."""
    timeout = env.timeout
    for rid in range(len(ready)):
        delay = ready[rid] - env.now
        if delay > 0:
            yield timeout(delay)
        crew, wait = d.dispatch(rid, env.now)
        if crew >= 0:
            wake[crew].succeed_in(wait)
        _send(wake, d.drain_woken())


def crew_cycle_joint(env: simpy.Environment, crew: int, d: Dispatcher, wake: list):
    """:func:`crew_cycle` for scenarios with joint checks: a crew that joins a joint check before the
    last crew owed waits for the wake-up of the one that completes it (``clear`` returns -1 for it)."""
    timeout = env.timeout
    while True:
        wake[crew] = Wakeup(env)
        yield wake[crew]
        wait = d.clear(crew, env.now)
        _send(wake, d.drain_woken())
        while wait >= 0:
            yield timeout(wait)
            wait = d.clear(crew, env.now)
            _send(wake, d.drain_woken())


def _send(wake: list, woken: Woken) -> None:
    for crew, wait in woken:
        wake[crew].succeed_in(wait)


def shift_manager(env: simpy.Environment, team: int, changes, d: Dispatcher, wake: list):
    """Put crews on and off duty at shift changes (and on and off planned inspections: changes of
    ``(time, reactive, planned)`` from :func:`plan_changes`)."""
    for change in changes:
        t = change[0]
        if t > env.now:
            yield env.timeout(t - env.now)
        if len(change) == 2:
            _send(wake, d.shift_change(team, change[1], env.now))
        else:
            _send(wake, d.plan_change(team, change[1], change[2], env.now))


def reopenings(env: simpy.Environment, times, d: Dispatcher, wake: list):
    """When a closure window ends, idle crews at base take waiting reports they can now reach."""
    for t in times:
        if t > env.now:
            yield env.timeout(t - env.now)
        _send(wake, d.retry_idle(env.now))


# ------------------------------------------------------------------------------------ shifts

def duty_changes(team_cfg, horizon_min: float) -> list[tuple[float, int]]:
    """``(time, crews on duty)`` at every change over the horizon, from the team's shifts."""
    if not team_cfg.shifts:
        return [(0.0, team_cfg.crews)]
    shifts = _parsed_shifts(team_cfg)
    days = int(math.ceil(horizon_min / 1440.0)) + 1
    points = {0.0}
    for d in range(-1, days):
        for a, b, _, _ in shifts:
            points.add(d * 1440.0 + a)
            points.add(d * 1440.0 + b)
    out = []
    last = None
    for t in sorted(p for p in points if 0 <= p < horizon_min):
        c = _on_duty(shifts, t)
        if c != last:
            out.append((t, c))
            last = c
    return out


def campaign_windows(scenario, team_name: str, horizon_min: float) -> list[tuple[float, float, int]]:
    """``(start, end, crews)`` of every planned-inspection session of a team within the horizon."""
    pi = scenario.planned_inspections
    if pi is None:
        return []
    out = []
    for cp in pi.campaigns:
        if team_name in cp.teams:
            out += campaign_sessions(cp, horizon_min)
    return out


def campaign_sessions(cp, horizon_min: float) -> list[tuple[float, float, int]]:
    """``(start, end, crews)`` of each day a campaign runs within the horizon (minutes of the run)."""
    from ..scenario import WEEKDAYS

    days = int(math.ceil(horizon_min / 1440.0))
    on = set(cp.days) | {d for d in range(days) if WEEKDAYS[d % 7] in cp.weekdays}
    a, b = parse_hhmm(cp.start), parse_hhmm(cp.end)
    return [(d * 1440.0 + a, d * 1440.0 + b, cp.crews) for d in sorted(on) if d * 1440.0 + a < horizon_min]


def plan_changes(scenario, team: int, horizon_min: float) -> list[tuple[float, int, int]]:
    """``(time, crews in reactive service, crews on a planned inspection)`` at every change: a
    campaign takes its crews out of those on duty (never more than are on duty)."""
    cfg = scenario.teams[team]
    windows = campaign_windows(scenario, cfg.name, horizon_min)
    points = {t for t, _ in duty_changes(cfg, horizon_min)}
    for a, b, _ in windows:
        points.update((a, b))
    out, last = [], None
    for t in sorted(p for p in points if 0 <= p < horizon_min):
        on = crews_on_duty(cfg, t)
        planned = min(on, sum(c for a, b, c in windows if a <= t < b))
        now = (on - planned, planned)
        if now != last:
            out.append((t, *now))
            last = now
    return out


def _parsed_shifts(team_cfg) -> list[tuple[int, int, str, int]]:
    return [(parse_hhmm(s.start), parse_hhmm(s.end), s.days, s.crews) for s in team_cfg.shifts]


def crews_on_duty(team_cfg, t_min: float) -> int:
    """Crews of a team on duty at minute ``t_min`` of the run (day 0 is a Monday)."""
    if not team_cfg.shifts:
        return team_cfg.crews
    return _on_duty(_parsed_shifts(team_cfg), t_min)


def _on_duty(shifts, t_min: float) -> int:
    day, mod = divmod(t_min, 1440.0)
    total = 0
    for a, b, days, crews in shifts:
        if a <= b:
            on, shift_day = a <= mod < b, day
        else:  # wraps midnight: the part after midnight belongs to the previous day's shift
            on, shift_day = (mod >= a or mod < b), (day if mod >= a else day - 1)
        weekday = int(shift_day) % 7 < 5
        if on and (days == "all" or (days == "weekdays") == weekday):
            total += crews
    return total


def has_closures(world: "World") -> bool:
    """Whether any time band closes a road (a disruption): dispatchers then check reachability."""
    return any(b.edge_factors and 0.0 in b.edge_factors.values() for b in world.bands.bands)


def reopening_times(world: "World", horizon_min: float) -> list[float]:
    """When road closures end within the horizon (empty without closures)."""
    if not has_closures(world):
        return []
    return sorted({w[1] for w in world.bands.windows if w[1] < horizon_min})


# ------------------------------------------------------------------------------------ one replication

def run_replication(world: "World", reports: "Reports", dispatcher: type[Dispatcher],
                    replication: int = 0) -> ReplicationResult:
    """Run one replication of ``world`` on ``reports`` with a dispatcher class."""
    sc = world.scenario
    horizon = sc.run.horizon_days * 1440.0
    roster = Roster.of(sc)
    out = Outcome.empty(reports, len(roster))
    d = dispatcher(world, reports, roster, out)
    env = simpy.Environment()
    wake: list = [None] * len(roster)
    joint = any(c.joint for c in sc.demand.categories)
    planned = bool(sc.planned_inspections and sc.planned_inspections.campaigns)
    for c in range(len(roster)):
        env.process(crew_cycle_joint(env, c, d, wake) if joint else crew_cycle(env, c, d.clear, wake))
    for i, t in enumerate(sc.teams):
        changes = plan_changes(sc, i, horizon) if planned else duty_changes(t, horizon)
        env.process(shift_manager(env, i, changes, d, wake))
    if joint:
        env.process(report_source_joint(env, reports.ready_min.tolist(), d, wake))
    else:
        env.process(report_source(env, reports.ready_min.tolist(), d.dispatch, wake))
    reopen = reopening_times(world, horizon)
    if reopen:
        env.process(reopenings(env, reopen, d, wake))
    env.run(until=horizon)
    events = next(env._eid)  # SimPy 4's event counter: how many events were scheduled
    d.close_books(horizon)
    rep_i, rep_f, crew_f = out.rep_i, out.rep_f, out.crew_f
    return ReplicationResult(
        replication=replication, reports=reports, dispatched_min=rep_f[:, RepF.DISPATCHED].copy(),
        arrived_min=rep_f[:, RepF.ARRIVED].copy(), cleared_min=rep_f[:, RepF.CLEARED].copy(),
        team=rep_i[:, RepI.TEAM].astype(np.int16), crew=rep_i[:, RepI.CREW].astype(np.int32),
        travel_min=rep_f[:, RepF.TRAVEL].copy(), queued=rep_i[:, RepI.QUEUED].astype(bool),
        crew_names=list(roster.names), crew_team=roster.team.copy(),
        crew_busy_min=crew_f[:, CrewF.BUSY_TOTAL].copy(), crew_duty_min=crew_f[:, CrewF.DUTY_MIN].copy(),
        horizon_min=horizon, warmup_min=sc.run.warmup_days * 1440.0, events=events,
        crew_return_min=crew_f[:, CrewF.RET_TOTAL].copy(), extra=dict(d.extra),
    )
