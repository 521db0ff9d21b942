"""The SimPy dispatch model: reports arrive, the dispatcher picks a crew, crews drive, work, return.

Processes are plain generator functions (:func:`report_source`, :func:`crew_cycle`,
:func:`shift_manager`); state lives in small classes (:class:`Crew`, :class:`TeamState`,
:class:`Simulation`). A return trip to base needs no event of its own: a free crew's position is
evaluated lazily from the trip's start time and route when a dispatch decision asks for it, so a
returning crew can be sent on from where it is.

:class:`World` holds what replications share (graph, router, jurisdictions, demand model), so it is
built once and reused for every replication, load level and variant with the same graph.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import simpy

from .demand import DemandModel, Reports
from ._kernels import walk_to_base
from .policies import POLICIES
from .routing import Router
from .scenario import Scenario
from .speeds import parse_hhmm

INF = math.inf
IDLE, BUSY, OFF = 0, 1, 2


# ------------------------------------------------------------------------------------ the world

class World:
    """Graph, router, bases, jurisdictions and demand for one scenario: built once, run many times.

    Parameters
    ----------
    scenario
        The validated scenario.
    G
        A prepared road graph, or its :class:`~dispatch_sim.network.RoadNetwork` (e.g. another
        World's ``network``, which avoids building the networkx graph); loaded from the scenario
        (cache first) when None.
    router
        A router for ``G``; built when None.
    warn
        Callable for warnings (snap distance, stand-in).
    """

    def __init__(self, scenario: Scenario, G: nx.MultiDiGraph | None = None, router: Router | None = None,
                 warn=None, use_disk_cache: bool = True):
        self.scenario = sc = scenario
        self.warnings: list[str] = []

        def _warn(msg):
            self.warnings.append(msg)
            if warn:
                warn(msg)

        self.warn = _warn
        from .world_roads import load_world_roads

        roads = load_world_roads(sc, G=G, router=router, warn=_warn, use_disk_cache=use_disk_cache)
        self.network = roads.network
        self.standin = roads.network.is_standin
        self.locator = roads.locator
        self.base_nodes = roads.base_nodes
        self.base_snap_m = roads.base_snap_m
        self.bands = roads.bands
        self.router = roads.router
        self.base_idx = np.array([self.router.index[b] for b in self.base_nodes], dtype=np.int64)
        self.node_team = self._jurisdictions()
        eu, ev, tt = self.router._edges
        lengths = self.network.length
        if getattr(sc.dispatch, "move_up", False):
            _warn("dispatch.move_up runs on the readable dispatcher only (same decisions, about three times slower)")
        self.demand = DemandModel(sc, self.router, self.locator, self.node_team, (eu, ev, lengths), warn=_warn)

    @property
    def G(self) -> nx.MultiDiGraph:
        """The prepared networkx road graph: rebuilt from the network cache on first use (a warm
        start does not need it; place names, disruptions by road name and notebooks do)."""
        return self.network.graph()

    def _jurisdictions(self) -> np.ndarray:
        """Home team of every node: a team's GeoJSON polygon where given, else its fastest base."""
        sc = self.scenario
        town = [i for i, t in enumerate(sc.teams) if not t.backup]
        d = self.router.from_base[0][town]  # off-peak travel time from each township base
        node_team = np.asarray(town)[np.argmin(d, axis=0)]
        for i, t in enumerate(sc.teams):
            if t.jurisdiction and not t.backup:
                from .roads import load_polygon
                import shapely

                poly = load_polygon(t.jurisdiction)
                inside = shapely.contains_xy(poly, self.router.lon, self.router.lat)
                node_team[inside] = i
        return node_team.astype(np.int16)

    def reports(self, replication: int, *, seed: int | None = None, load: float | None = None,
                coupling_load: float | None = None) -> Reports:
        """The reports of one replication (same seed and replication → same reports)."""
        sc = self.scenario
        ss = replication_seed(sc.run.seed if seed is None else seed, replication)
        return self.demand.generate(ss, sc.run.horizon_days * 1440.0, load=sc.run.load if load is None else load,
                                    coupling_load=coupling_load)

    def simulate(self, replication: int = 0, *, seed: int | None = None, load: float | None = None,
                 coupling_load: float | None = None, reports: Reports | None = None) -> "ReplicationResult":
        """Run one replication and return its incident table and crew figures."""
        from .compiled_model import CompiledSimulation, can_compile

        rep = reports if reports is not None else self.reports(replication, seed=seed, load=load, coupling_load=coupling_load)
        sim = CompiledSimulation(self, rep) if can_compile(self, self.scenario.dispatch.policy) else Simulation(self, rep)
        return sim.run(replication)


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """Seed of one replication: independent of how many workers run the replications."""
    return np.random.SeedSequence([int(seed), int(replication)])


# ------------------------------------------------------------------------------------ state

class Crew:
    """One vehicle and its crew."""

    __slots__ = ("id", "name", "team", "home", "covering", "release", "k", "base_i", "state", "wakeup", "job", "node",
                 "ret_band", "ret_cur", "ret_start", "ret_end", "busy_start", "busy_total", "ret_total", "off_after_job",
                 "jobs")

    def __init__(self, cid: int, team: "TeamState", k: int, base_i: int, base_node: int):
        self.id = cid
        self.name = f"{team.name}#{k + 1}"
        self.team = team  # the team it serves now: its own, or one it covers after a move-up
        self.home = team  # the team it belongs to
        self.covering = False
        self.release = False  # go home after the job under way (the covered team has its own crew again)
        self.k = k
        self.base_i = base_i
        self.state = OFF
        self.wakeup = None
        self.job = None
        self.node = base_node
        self.ret_band = -1  # time band of the return trip under way, -1 when not returning
        self.ret_cur = -1  # next node on the return route, as last asked (the walk only moves forward)
        self.ret_start = 0.0
        self.ret_end = 0.0  # minutes; <= now means at base
        self.busy_start = 0.0
        self.busy_total = 0.0  # dispatched until clear: unavailable for dispatch
        self.ret_total = 0.0  # driving back to base while on duty (can be sent on)
        self.off_after_job = False
        self.jobs = 0


class TeamState:
    __slots__ = ("idx", "name", "backup", "crews", "free", "on_duty", "base_i")

    def __init__(self, idx, name, backup, base_i):
        self.idx = idx
        self.name = name
        self.backup = backup
        self.crews: list[Crew] = []
        self.free: dict[int, Crew] = {}
        self.on_duty = 0
        self.base_i = base_i


@dataclass
class ReplicationResult:
    """What one replication produced."""

    replication: int
    reports: Reports
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


# ------------------------------------------------------------------------------------ processes

class Wakeup(simpy.Event):
    """What an idle crew waits for: the dispatcher triggers it for the moment the crew will have
    cleared its job (arrival plus on-scene work), so a job costs the crew one event, not two.

    SimPy's own :class:`simpy.Timeout` is an event scheduled with a delay when it is created; this
    one is scheduled with a delay when the dispatcher decides, the same way (value, ``ok``, then
    :meth:`simpy.Environment.schedule`).
    """

    __slots__ = ()

    def succeed_in(self, delay: float, value=None) -> "Wakeup":
        if self._value is not simpy.events.PENDING:
            raise RuntimeError(f"{self} has already been triggered")
        self._ok = True
        self._value = value
        self.env.schedule(self, simpy.events.NORMAL, delay)
        return self


def report_source(env: simpy.Environment, sim: "Simulation"):
    """Hand each report to the dispatcher at the moment the platform has processed it."""
    ready = sim.r_ready
    timeout = env.timeout
    dispatch = sim.dispatch
    for rid in range(len(ready)):
        delay = ready[rid] - env.now
        if delay > 0:
            yield timeout(delay)
        dispatch(rid)


def crew_cycle(env: simpy.Environment, sim: "Simulation", crew: Crew):
    """A crew's life: wait for a job, drive, work, take the next waiting job or head back.

    Drive and on-scene work are one wait: nothing is decided at the moment of arrival, so the
    arrival time is booked rather than scheduled (run() books jobs cut by the horizon). The first
    job's wait is the wake-up itself (:class:`Wakeup`)."""
    timeout = env.timeout
    while True:
        crew.wakeup = Wakeup(env)
        yield crew.wakeup
        while True:
            rid = crew.job
            sim.arrived[rid] = sim.arrive_at[rid]
            sim.cleared[rid] = env.now
            crew.node = sim.r_node[rid]
            crew.job = None
            sim.after_clear(crew)
            if crew.job is None:
                break
            yield timeout(sim.arrive_at[crew.job] - env.now + sim.r_work[crew.job])


def reopenings(env: simpy.Environment, sim, times):
    """When a closure window ends, idle crews at base take waiting reports they can now reach."""
    for t in times:
        if t > env.now:
            yield env.timeout(t - env.now)
        sim.retry_idle()


def shift_manager(env: simpy.Environment, sim: "Simulation", team, changes):
    """Put crews on and off duty at shift changes."""
    for t, count in changes:
        if t > env.now:
            yield env.timeout(t - env.now)
        sim.set_on_duty(team, count)


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


def _parsed_shifts(team_cfg) -> list[tuple[int, int, str, int]]:
    return [(parse_hhmm(s.start), parse_hhmm(s.end), s.days, s.crews) for s in team_cfg.shifts]


def crews_on_duty(team_cfg, t_min: float) -> int:
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


# ------------------------------------------------------------------------------------ simulation

class Simulation:
    """One replication's mutable state and the dispatcher's decisions."""

    def __init__(self, world: World, reports: Reports):
        sc = world.scenario
        self.world = world
        self.env = simpy.Environment()
        self.router = world.router
        self.policy = POLICIES[sc.dispatch.policy](sc.dispatch)
        self.horizon = sc.run.horizon_days * 1440.0
        self.reports = reports
        n = len(reports)
        self.r_ready = reports.ready_min.tolist()
        self.r_node = reports.node.tolist()
        self.r_home = reports.home_team.tolist()
        self.r_work = reports.work_min.tolist()
        self.r_turnout_s = (reports.turnout_min * 60.0).tolist()
        self.r_prio = reports.priority.tolist()
        self.dispatched = np.full(n, np.nan)
        self.arrived = np.full(n, np.nan)
        self.cleared = np.full(n, np.nan)
        self.arrive_at = [0.0] * n
        self.team_of = np.full(n, -1, dtype=np.int16)
        self.crew_of = np.full(n, -1, dtype=np.int32)
        self.travel = np.full(n, np.nan)
        self.queued = np.zeros(n, dtype=bool)
        self.teams: list[TeamState] = []
        self.crews: list[Crew] = []
        for i, t in enumerate(sc.teams):
            ts = TeamState(i, t.name, t.backup, i)
            self.teams.append(ts)
            for k in range(t.max_crews()):
                c = Crew(len(self.crews), ts, k, i, int(world.base_idx[i]))
                ts.crews.append(c)
                self.crews.append(c)
        self.backup_teams = [t for t in self.teams if t.backup]
        # closures: a crew is never given a waiting report it cannot reach; when a closure ends, idle
        # crews at base look at the queues again
        self.closures = any(b.edge_factors and 0.0 in b.edge_factors.values() for b in world.bands.bands)
        self.reopen_at = sorted({w[1] for w in world.bands.windows if w[1] < self.horizon}) if self.closures else []
        self.move_up = bool(getattr(sc.dispatch, "move_up", False))
        self.move_up_min_free = int(getattr(sc.dispatch, "move_up_min_free", 2))
        self.moves = 0
        self.queues: list[list] = [[] for _ in self.teams]
        self.duty_min = np.zeros(len(self.crews))
        self.duty_since = np.full(len(self.crews), np.nan)
        fb, tb = self.router.from_base, self.router.to_base
        self._fb = fb
        self._tb = tb
        self._next = self.router.next_to_base

    # ------------------------------------------------------------------ run
    def run(self, replication: int = 0) -> ReplicationResult:
        env = self.env
        sc = self.world.scenario
        for c in self.crews:
            env.process(crew_cycle(env, self, c))
        for ts, tcfg in zip(self.teams, sc.teams):
            env.process(shift_manager(env, self, ts, duty_changes(tcfg, self.horizon)))
        env.process(report_source(env, self))
        if self.reopen_at:
            env.process(reopenings(env, self, self.reopen_at))
        env.run(until=self.horizon)
        events = next(env._eid)  # SimPy's event counter: how many events were scheduled
        now = self.horizon
        for c in self.crews:  # close the books on busy and on-duty time
            if c.job is not None and self.arrive_at[c.job] < now:
                self.arrived[c.job] = self.arrive_at[c.job]  # on scene, still working at the horizon
            if c.state == BUSY:
                c.busy_total += now - c.busy_start
            elif c.ret_band >= 0:
                self._book_return(c, now)
            if not np.isnan(self.duty_since[c.id]):
                self.duty_min[c.id] += now - self.duty_since[c.id]
        rep = self.reports
        travel = self.travel
        return ReplicationResult(
            replication=replication, reports=rep, dispatched_min=self.dispatched, arrived_min=self.arrived,
            cleared_min=self.cleared, team=self.team_of, crew=self.crew_of, travel_min=travel, queued=self.queued,
            crew_names=[c.name for c in self.crews], crew_team=np.array([c.home.idx for c in self.crews]),
            crew_busy_min=np.array([c.busy_total for c in self.crews]), crew_duty_min=self.duty_min.copy(),
            horizon_min=self.horizon, warmup_min=sc.run.warmup_days * 1440.0, events=events,
            crew_return_min=np.array([c.ret_total for c in self.crews]),
            extra={"move_ups": self.moves} if self.move_up else {},
        )

    def _book_return(self, c: Crew, now: float) -> None:
        """Count the on-duty part of the crew's last return drive, up to ``now``, as committed time."""
        since = self.duty_since[c.id]
        if not np.isnan(since):
            c.ret_total += max(0.0, min(now, c.ret_end) - max(c.ret_start, since))

    # ------------------------------------------------------------------ crew availability
    def all_free(self):
        for t in self.teams:
            yield from t.free.values()

    def free_backup(self):
        for t in self.backup_teams:
            yield from t.free.values()

    def set_on_duty(self, team: TeamState, count: int) -> None:
        now = self.env.now
        old = team.on_duty
        team.on_duty = count
        for c in team.crews:
            should = c.k < count
            if should and c.state == OFF and not c.off_after_job:
                c.state = IDLE
                team.free[c.id] = c
                self.duty_since[c.id] = now
                self._pull_next(c)
                if self.move_up and c.state == IDLE:
                    self._release_covers(team)
            elif should and c.off_after_job:
                c.off_after_job = False
            elif not should and c.state == IDLE:
                c.state = OFF
                c.team.free.pop(c.id, None)
                self._end_cover(c)
                self._end_duty(c, now)
            elif not should and c.state == BUSY:
                c.off_after_job = True
        return None if old == count else None

    # ------------------------------------------------------------------ closures
    def reachable_from(self, crew: Crew):
        """While closures exist: a test ``rid -> bool`` that the crew can reach report ``rid`` now (from
        its base when it is there, else from where it stands); None without closures."""
        if not self.closures:
            return None
        band = self.router.band_at(self.env.now)
        if crew.state != BUSY:  # coming on duty or a closure ending: it leaves from its base
            row = self._fb[band][crew.base_i]
            return lambda rid: row[self.r_node[rid]] < INF
        src = crew.node
        return lambda rid: self.router.tt(band, src, self.r_node[rid]) < INF

    def retry_idle(self) -> None:
        """A closure has ended: every idle crew at base, team by team, takes a waiting report."""
        now = self.env.now
        for team in self.teams:
            for c in team.crews:
                if c.state == IDLE and c.ret_end <= now and c.team is team:
                    self._pull_next(c)

    # ------------------------------------------------------------------ move-up (readable dispatcher only)
    def _cover(self, team: TeamState) -> None:
        """Move-up: ``team`` has just lost its last free crew. The nearest other township team with at
        least ``move_up_min_free`` free crews at base sends one to ``team``'s base; it serves ``team``
        (its reports and queue) until one of ``team``'s own crews is free again."""
        if team.backup or team.free or team.on_duty == 0:
            return
        now = self.env.now
        band = self.router.band_at(now)
        target = int(self.world.base_idx[team.base_i])
        best, best_t = None, INF
        for t in self.teams:
            if t is team or t.backup:
                continue
            at_base = [c for c in t.free.values() if c.ret_end <= now and not c.covering]
            if len(at_base) < self.move_up_min_free:
                continue
            tt = float(self._fb[band][t.base_i, target])
            if tt < best_t:
                best, best_t = at_base[0], tt
        if best is None or best_t == INF:
            return
        c = best
        if c.ret_band >= 0:
            self._book_return(c, now)
        c.team.free.pop(c.id, None)
        c.node = int(self.world.base_idx[c.base_i])
        c.team, c.base_i, c.covering = team, team.base_i, True
        team.free[c.id] = c
        self._start_return(c, now)  # the drive to the covered base, redirectable like a return trip
        self.moves += 1

    def _release_covers(self, team: TeamState) -> None:
        """``team`` has a free crew of its own again: crews covering it head home (after their job)."""
        for c in self.crews:
            if c.covering and c.team is team:
                if c.state == BUSY:
                    c.release = True
                elif c.state == IDLE:
                    self._send_home(c)

    def _send_home(self, c: Crew) -> None:
        now = self.env.now
        if c.ret_end > now and c.ret_band >= 0:  # still on the way to the covered base: turn round
            cur, off = self._position(c, now)
        else:
            cur, off = int(self.world.base_idx[c.base_i]), 0.0
        if c.ret_band >= 0:
            self._book_return(c, now)
        c.team.free.pop(c.id, None)
        self._end_cover(c)
        c.team.free[c.id] = c
        band = self.router.band_at(now)
        tt = float(self._tb[band][c.base_i, cur])
        c.node = cur
        c.ret_start = now + off / 60.0
        c.ret_end = c.ret_start + tt / 60.0
        c.ret_band = band if (tt > 0 or off > 0) else -1
        c.ret_cur = cur

    @staticmethod
    def _end_cover(c: Crew) -> None:
        if c.covering:
            c.team, c.base_i, c.covering, c.release = c.home, c.home.base_i, False, False

    def _end_duty(self, c: Crew, now: float) -> None:
        if c.ret_band >= 0:
            self._book_return(c, now)
        if not np.isnan(self.duty_since[c.id]):
            self.duty_min[c.id] += now - self.duty_since[c.id]
            self.duty_since[c.id] = np.nan

    # ------------------------------------------------------------------ decisions
    def dispatch(self, rid: int) -> None:
        crew, eta_s = self.policy.choose(self, rid)
        if crew is None:
            self.queued[rid] = True
            heapq.heappush(self.queues[self.r_home[rid]], (self.r_prio[rid], self.r_ready[rid], rid))
            return
        self.assign(crew, rid, eta_s)

    def best_crew(self, rid: int, crews, limit_s: float):
        """Fastest of ``crews`` to report ``rid`` with ETA (s) below ``limit_s``: ``(crew, eta_s)``.

        Crews at base: base-matrix lookup plus turnout. Crews on the road back: exact ETA from the
        node they are heading to, via one reversed search bounded by the best ETA so far; skipped
        when landmark lower bounds (the bases) show none of them can win.
        """
        now = self.env.now
        band = self.router.band_at(now)
        r = self.r_node[rid]
        fb = self._fb[band]
        turnout = self.r_turnout_s[rid]
        best, best_eta = None, limit_s
        away = []
        for c in crews:
            if c.ret_end <= now:
                eta = turnout + fb[c.base_i, r]
                if eta < best_eta:
                    best, best_eta = c, eta
            else:
                away.append(c)
        if not away:
            return best, best_eta
        n = len(away)
        xs = np.empty(n, dtype=np.int64)
        offs = np.empty(n)
        base_i = np.empty(n, dtype=np.int64)
        for j, c in enumerate(away):
            xs[j], offs[j] = self._position(c, now)
            base_i[j] = c.base_i
        j, eta = self.router.fastest_away(band, r, xs, offs, base_i, best_eta)
        if j >= 0:
            return away[j], eta
        return best, best_eta

    def _position(self, c: Crew, now: float) -> tuple[int, float]:
        """Where a returning crew can be redirected from: the next node on its route and the
        seconds until it gets there. The route is followed hop by hop from where the last question
        left it (next-hop matrix toward the base), so no trip builds its whole route."""
        tb = self._tb[c.ret_band][c.base_i]
        remaining = float(tb[c.node]) - (now - c.ret_start) * 60.0  # seconds of driving left to the base
        cur = walk_to_base(self._next[c.ret_band][c.base_i], tb, c.ret_cur, remaining)
        c.ret_cur = cur
        return cur, max(0.0, remaining - float(tb[cur]))

    def assign(self, crew: Crew, rid: int, eta_s: float) -> None:
        now = self.env.now
        if crew.ret_band >= 0:  # an interrupted (or finished) return trip counts as committed time
            self._book_return(crew, now)
            crew.ret_band = -1
        team = crew.team
        team.free.pop(crew.id, None)
        crew.state = BUSY
        crew.busy_start = now
        crew.job = rid
        crew.jobs += 1
        at_base = crew.ret_end <= now
        self.dispatched[rid] = now
        self.arrive_at[rid] = now + eta_s / 60.0
        turnout = self.r_turnout_s[rid] if at_base else 0.0
        self.travel[rid] = (eta_s - turnout) / 60.0
        self.team_of[rid] = crew.home.idx
        self.crew_of[rid] = crew.id
        crew.ret_end = INF  # away from base until its next return trip ends
        crew.wakeup.succeed_in(self.arrive_at[rid] - now + self.r_work[rid])
        if self.move_up and not team.free:
            self._cover(team)

    def after_clear(self, crew: Crew) -> None:
        """A crew finished on scene: next waiting job from here, or head back to base."""
        now = self.env.now
        if crew.release:  # the township it covered has its own crew again: back to its own team
            self._end_cover(crew)
        if not crew.off_after_job:
            rid = self.policy.next_job(self, crew)
            if rid is not None:
                band = self.router.band_at(now)
                tt = self.router.tt(band, crew.node, self.r_node[rid])
                if tt == INF:  # closed off for now (a disruption): wait for the road to open, then drive
                    tt = self.router.wait_then_drive(crew.node, self.r_node[rid], now)
                self.dispatched[rid] = now
                self.arrive_at[rid] = now + tt / 60.0
                self.travel[rid] = tt / 60.0
                self.team_of[rid] = crew.home.idx
                self.crew_of[rid] = crew.id
                crew.job = rid
                crew.jobs += 1
                return
        crew.busy_total += now - crew.busy_start
        if crew.off_after_job:
            self._end_cover(crew)  # a covering crew whose shift ends drives to its own base
        self._start_return(crew, now)
        if crew.off_after_job:
            crew.off_after_job = False
            crew.state = OFF
            self._end_duty(crew, now)
        else:
            crew.state = IDLE
            crew.team.free[crew.id] = crew
            if self.move_up and not crew.covering:
                self._release_covers(crew.team)

    def _pull_next(self, crew: Crew) -> None:
        rid = self.policy.next_job(self, crew)
        if rid is None:
            return
        band = self.router.band_at(self.env.now)
        drive = self._fb[band][crew.base_i, self.r_node[rid]]
        if drive == INF:  # closed off for now (a disruption): wait for the road to open, then drive
            drive = self.router.wait_then_drive(int(self.world.base_idx[crew.base_i]), self.r_node[rid], self.env.now)
        self.assign(crew, rid, self.r_turnout_s[rid] + drive)

    def _start_return(self, crew: Crew, now: float) -> None:
        band = self.router.band_at(now)
        b = crew.base_i
        tt = float(self._tb[band][b, crew.node])
        if tt == INF:  # cut off by a closure: it stays where it is until the first band with a way back
            now, band, tt = self.router.first_open(now, lambda k: float(self._tb[k][b, crew.node]))
        crew.ret_start = now
        crew.ret_end = now + tt / 60.0
        # the route itself is only worked out if a dispatch decision asks where the crew is
        crew.ret_band = band if tt > 0 else -1
        crew.ret_cur = crew.node
