"""The readable dispatcher: crews and teams as objects, any :class:`~dispatch_sim.policies.Policy`.

This is the reference for what a decision is. The compiled dispatcher
(:mod:`dispatch_sim.sim.compiled`) makes the same decisions for the built-in policies about three
times faster; features only this one has (move-up, policies registered by users) make
:func:`dispatch_sim.sim.compiled.can_compile` say no, and the run uses this one.

State lives in two small classes (:class:`Crew`, :class:`TeamState`); outcomes go into the shared
report and crew arrays (:mod:`dispatch_sim.sim.layout`). Policies see this object as ``sim`` and use
:meth:`ReadableDispatcher.best_crew`, :meth:`ReadableDispatcher.reachable_from`, ``sim.teams``,
``sim.queues`` and ``sim.r_home``.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from .._kernels import walk_to_base
from ..policies import POLICIES
from .engine import Dispatcher, Outcome, Roster, Woken, has_closures, reopening_times
from .layout import CrewF, CrewState, RepF, RepI

INF = math.inf
IDLE, BUSY, OFF, PLANNED = CrewState.IDLE, CrewState.BUSY, CrewState.OFF, CrewState.PLANNED


class Crew:
    """One vehicle and its crew."""

    __slots__ = ("id", "name", "team", "home", "covering", "release", "k", "base_i", "state", "job", "node",
                 "ret_band", "ret_cur", "ret_start", "ret_end", "busy_start", "busy_total", "ret_total",
                 "off_after_job",
                 "jobs", "plan_after", "plan_since", "plan_total")

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
        self.job: int | None = None
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
        self.plan_after = False  # go (back) on the planned inspection under way when this job clears
        self.plan_since = math.nan
        self.plan_total = 0.0  # minutes on planned inspections


class TeamState:
    __slots__ = ("idx", "name", "backup", "district", "crews", "free", "on_duty", "base_i")

    def __init__(self, idx, name, backup, base_i, district=None):
        self.idx = idx
        self.name = name
        self.backup = backup  # helps township teams whose crews are all busy
        self.district = backup if district is None else district  # no area of its own
        self.crews: list[Crew] = []
        self.free: dict[int, Crew] = {}
        self.on_duty = 0
        self.base_i = base_i


class ReadableDispatcher(Dispatcher):
    """One replication's mutable state and the dispatcher's decisions (see the module docstring)."""

    def __init__(self, world, reports, roster: Roster, out: Outcome):
        super().__init__(world, reports, roster, out)
        sc = world.scenario
        self.router = world.router
        self.policy = POLICIES[sc.dispatch.policy](sc.dispatch)
        self.horizon = sc.run.horizon_days * 1440.0
        self.now = 0.0
        self.r_ready = reports.ready_min.tolist()
        self.r_node = reports.node.tolist()
        self.r_home = reports.serving_team.tolist()  # the team that must serve it (owner if referred)
        self.r_work = reports.work_min.tolist()
        self.r_turnout_s = (reports.turnout_min * 60.0).tolist()
        self.r_prio = reports.priority.tolist()
        self.rep_i, self.rep_f = out.rep_i, out.rep_f
        self.arrive_at = [0.0] * len(reports)
        self.teams: list[TeamState] = [TeamState(i, t.name, t.backup and t.backs_up, i, t.backup)
                                       for i, t in enumerate(sc.teams)]
        self.crews: list[Crew] = []
        for c in range(len(roster)):
            ts = self.teams[int(roster.team[c])]
            crew = Crew(c, ts, int(roster.k[c]), ts.idx, int(world.base_idx[ts.idx]))
            ts.crews.append(crew)
            self.crews.append(crew)
        self.backup_teams = [t for t in self.teams if t.backup]
        #: teams whose crews may serve a township's reports (townships and backing-up district teams)
        self.helper_teams = [t for t in self.teams if t.backup or not t.district]
        self._area_queues = [t.idx for t in self.teams if not t.district]
        self._all_queues = list(range(len(self.teams)))
        self.restricted = any(t.district for t in self.teams)  # district queues hold referrals: owners only
        # joint checks (category -> [(team or -1 for the report's own team, crews)])
        cats = sc.demand.categories
        names = {t.name: i for i, t in enumerate(sc.teams)}
        self.cat_need = [[(-1 if k == "home" else names[k], n) for k, n in c.joint.items()] for c in cats]
        self.joint = any(self.cat_need)
        self.r_cat = reports.category.tolist()
        self.need: dict[int, dict[int, int]] = {}  # joint report -> crews still owed per team
        self._queued_joint: set[int] = set()  # joint reports in their owing teams' queues
        self.on_job: dict[int, list] = {}  # joint report -> its crews so far
        self.crew_arrive: list[float] = [0.0] * len(self.roster) if self.joint else []  # joint checks only
        self.crew_rows: list[tuple] = []  # (report, crew, dispatched, arrives, travel) of joint checks
        self.joint_woken: Woken = []  # crews of a joint check woken by the call that completed it
        # planned inspections: recall of planned crews for urgent reports
        pi = sc.planned_inspections
        self.recall = bool(pi and pi.recall)
        self.recall_prio = pi.recall_priority if pi else 0
        self.recall_s = (pi.recall_delay_min * 60.0) if pi else 0.0
        self.recalls = 0
        self.planned = bool(pi and pi.campaigns)
        self.restricted = self.restricted or self.joint
        # closures: a crew is never given a waiting report it cannot reach; when a closure ends, idle
        # crews at base look at the queues again
        self.closures = has_closures(world)
        self.reopen_at = reopening_times(world, self.horizon)
        self.move_up = bool(getattr(sc.dispatch, "move_up", False))
        self.move_up_min_free = int(getattr(sc.dispatch, "move_up_min_free", 2))
        self.moves = 0
        self.queues: list[list] = [[] for _ in self.teams]
        self.duty_min = np.zeros(len(self.crews))
        self.duty_since = np.full(len(self.crews), np.nan)
        self._fb = self.router.from_base
        self._tb = self.router.to_base
        self._next = self.router.next_to_base

    # ------------------------------------------------------------------ the engine's interface
    def dispatch(self, rid: int, now: float) -> tuple[int, float]:
        self.now = now
        if self.joint and self.cat_need[self.r_cat[rid]]:
            return self._dispatch_joint(rid)
        team = self.teams[self.r_home[rid]]
        if team.district:  # a referred matter: only the crews of the district team that owns it
            crew, eta_s = self.best_crew(rid, team.free.values(), INF)
        else:
            crew, eta_s = self.policy.choose(self, rid)
        if crew is None and self.recall and self.r_prio[rid] <= self.recall_prio:
            crew, eta_s = self._recallable(rid)
            if crew is not None:
                return crew.id, self._recall(crew, rid, eta_s)
        if crew is None:
            self.rep_i[rid, RepI.QUEUED] = 1
            heapq.heappush(self.queues[self.r_home[rid]], (self.r_prio[rid], self.r_ready[rid], rid))
            return -1, 0.0
        return crew.id, self.assign(crew, rid, eta_s)

    def clear(self, cid: int, now: float) -> float:
        """A crew finished on scene: book the job; next waiting job from here, or head back to base."""
        self.now = now
        crew = self.crews[cid]
        rid = crew.job
        assert rid is not None  # a crew clears its own job
        self.rep_f[rid, RepF.ARRIVED] = self.arrive_at[rid]
        self.rep_f[rid, RepF.CLEARED] = now
        crew.node = self.r_node[rid]
        crew.job = None
        if crew.release:  # the township it covered has its own crew again: back to its own team
            self._end_cover(crew)
        if crew.plan_after and not crew.off_after_job:  # back to the planned inspection under way
            crew.busy_total += now - crew.busy_start
            crew.plan_after = False
            self._end_duty(crew, now)
            self._start_plan(crew, now)
            return -1.0
        if not crew.off_after_job:
            rid = self.policy.next_job(self, crew)
            if rid is not None and rid in self.need:  # a joint check its team owes a crew to
                tt = self._drive_from(crew.node, rid, now)
                wait = self._join(crew, rid, tt)
                return -1.0 if wait is None else wait
            if rid is not None:
                tt = self._drive_from(crew.node, rid, now)
                self.arrive_at[rid] = now + tt / 60.0
                self._book(crew, rid, now, tt / 60.0)
                crew.job = rid
                crew.jobs += 1
                return self.arrive_at[rid] - now + self.r_work[rid]
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
        return -1.0

    def shift_change(self, team: int, count: int, now: float) -> Woken:
        return self.plan_change(team, count, 0, now)

    def plan_change(self, team: int, count: int, planned: int, now: float) -> Woken:
        """The first ``count`` crews of ``team`` in reactive service, the next ``planned`` on a planned
        inspection (crews on a job go when it clears), the rest off duty."""
        self.now = now
        ts = self.teams[team]
        ts.on_duty = count
        woken: Woken = []
        for c in ts.crews:
            should = c.k < count
            plan = not should and c.k < count + planned
            if plan:
                self._to_plan(c, now)
                continue
            if should and c.state == PLANNED:  # the inspection is over: back in service, at its base
                self._end_plan(c, now)
                c.state = IDLE
                c.ret_end = min(c.ret_end, now)
                c.node = int(self.world.base_idx[c.base_i])
                ts.free[c.id] = c
                self.duty_since[c.id] = now
                wait = self._pull_next(c)
                if wait is not None:
                    woken.append((c.id, wait))
                continue
            if not should and c.state == PLANNED:
                self._end_plan(c, now)
                c.state = OFF
                continue
            if c.state == BUSY:
                c.plan_after = False
            if should and c.state == OFF and not c.off_after_job:
                c.state = IDLE
                ts.free[c.id] = c
                self.duty_since[c.id] = now
                wait = self._pull_next(c)
                if wait is not None:
                    woken.append((c.id, wait))
                if self.move_up and c.state == IDLE:
                    self._release_covers(ts)
            elif should and c.off_after_job:
                c.off_after_job = False
            elif not should and c.state == IDLE:
                c.state = OFF
                c.team.free.pop(c.id, None)
                self._end_cover(c)
                self._end_duty(c, now)
            elif not should and c.state == BUSY:
                c.off_after_job = True
        woken.extend(self.drain_woken())
        return woken

    def _to_plan(self, c: Crew, now: float) -> None:
        """Crew ``c`` goes on the planned inspection: now when free or off, after its job when busy."""
        if c.state == PLANNED:
            return
        if c.state == BUSY:
            c.plan_after, c.off_after_job = True, False
            return
        if c.state == IDLE:
            c.team.free.pop(c.id, None)
            self._end_cover(c)
            self._end_duty(c, now)
        c.off_after_job = False
        self._start_plan(c, now)

    def _start_plan(self, c: Crew, now: float) -> None:
        c.state = PLANNED
        c.plan_since = now
        c.ret_band = -1
        c.ret_end = now  # out of reactive service; it comes back at its base
        c.node = int(self.world.base_idx[c.base_i])

    def _end_plan(self, c: Crew, now: float) -> None:
        if c.plan_since == c.plan_since:
            c.plan_total += now - c.plan_since
            c.plan_since = math.nan

    def retry_idle(self, now: float) -> Woken:
        """A closure has ended: every idle crew at base, team by team, takes a waiting report."""
        self.now = now
        woken: Woken = []
        for team in self.teams:
            for c in team.crews:
                if c.state == IDLE and c.ret_end <= now and c.team is team:
                    wait = self._pull_next(c)
                    if wait is not None:
                        woken.append((c.id, wait))
        woken.extend(self.drain_woken())
        return woken

    def close_books(self, now: float) -> None:
        cf = self.out.crew_f
        for c in self.crews:
            if c.job is not None and self.arrive_at[c.job] < now and c.job not in self.need:
                self.rep_f[c.job, RepF.ARRIVED] = self.arrive_at[c.job]  # on scene, still working
            if c.state == PLANNED:
                self._end_plan(c, now)
            if c.state == BUSY:
                c.busy_total += now - c.busy_start
            elif c.ret_band >= 0:
                self._book_return(c, now)
            if not np.isnan(self.duty_since[c.id]):
                self.duty_min[c.id] += now - self.duty_since[c.id]
        cf[:, CrewF.BUSY_TOTAL] = [c.busy_total for c in self.crews]
        cf[:, CrewF.DUTY_MIN] = self.duty_min
        cf[:, CrewF.RET_TOTAL] = [c.ret_total for c in self.crews]
        if self.move_up:
            self.extra["move_ups"] = self.moves
        if self.planned:
            self.extra["planned_min"] = np.array([c.plan_total for c in self.crews])
            self.extra["recalls"] = self.recalls
        if self.joint:
            rows = np.array(self.crew_rows, dtype=float).reshape(-1, 5)
            self.extra["joint_crews"] = rows[np.lexsort((rows[:, 1], rows[:, 0]))] if len(rows) else rows

    # ------------------------------------------------------------------ for policies
    def all_free(self):
        for t in self.helper_teams:
            yield from t.free.values()

    def free_backup(self):
        for t in self.backup_teams:
            yield from t.free.values()

    def open_queues(self, crew: Crew):
        """Queues ``crew`` may take reports from when it helps: every team's, but a district team's
        referrals only its own crews take (and one that does not back up townships takes only those)."""
        if not self.restricted:
            return self._all_queues
        if crew.team.district and not crew.team.backup:
            return (crew.team.idx,)
        if crew.team.district:
            return self._area_queues + [crew.team.idx]
        return self._area_queues

    def reachable_from(self, crew: Crew):
        """A test ``(rid, team) -> bool`` that the crew can take report ``rid`` from ``team``'s queue now:
        while closures exist, that it can reach it (from its base when it is there, else from where it
        stands); with joint checks, that the check owes a crew of its team from that queue. None when
        nothing restricts."""
        reach = None
        if self.closures:
            band = self.router.band_at(self.now)
            if crew.state != BUSY:  # coming on duty or a closure ending: it leaves from its base
                row = self._fb[band][crew.base_i]
                reach = lambda rid: row[self.r_node[rid]] < INF  # noqa: E731
            else:
                src = crew.node
                reach = lambda rid: self.router.tt(band, src, self.r_node[rid]) < INF  # noqa: E731
        if not self.joint:
            return None if reach is None else (lambda rid, t=None: reach(rid))
        need, mine = self.need, crew.team.idx

        def ok(rid, t=None):
            if rid in need and (t != mine or need[rid].get(mine, 0) <= 0):
                return False
            return reach is None or reach(rid)
        return ok

    def best_crew(self, rid: int, crews, limit_s: float):
        """Fastest of ``crews`` to report ``rid`` with ETA (s) below ``limit_s``: ``(crew, eta_s)``.

        Crews at base: base-matrix lookup plus turnout. Crews on the road back: exact ETA from the
        node they are heading to, via one reversed search bounded by the best ETA so far; skipped
        when landmark lower bounds (the bases) show none of them can win.
        """
        now = self.now
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

    # ------------------------------------------------------------------ bookkeeping
    def _book(self, crew: Crew, rid: int, now: float, travel_min: float) -> None:
        """Record that ``crew`` was sent to ``rid`` at ``now``, driving ``travel_min``."""
        self.rep_f[rid, RepF.DISPATCHED] = now
        self.rep_f[rid, RepF.ARRIVE_AT] = self.arrive_at[rid]
        self.rep_f[rid, RepF.TRAVEL] = travel_min
        self.rep_i[rid, RepI.TEAM] = crew.home.idx
        self.rep_i[rid, RepI.CREW] = crew.id

    def _book_return(self, c: Crew, now: float) -> None:
        """Count the on-duty part of the crew's last return drive, up to ``now``, as committed time."""
        since = self.duty_since[c.id]
        if not np.isnan(since):
            c.ret_total += max(0.0, min(now, c.ret_end) - max(c.ret_start, since))

    def _end_duty(self, c: Crew, now: float) -> None:
        if c.ret_band >= 0:
            self._book_return(c, now)
        if not np.isnan(self.duty_since[c.id]):
            self.duty_min[c.id] += now - self.duty_since[c.id]
            self.duty_since[c.id] = np.nan

    def _position(self, c: Crew, now: float) -> tuple[int, float]:
        """Where a returning crew can be redirected from: the next node on its route and the
        seconds until it gets there. The route is followed hop by hop from where the last question
        left it (next-hop matrix toward the base), so no trip builds its whole route."""
        tb = self._tb[c.ret_band][c.base_i]
        remaining = float(tb[c.node]) - (now - c.ret_start) * 60.0  # seconds of driving left to the base
        cur = walk_to_base(self._next[c.ret_band][c.base_i], tb, c.ret_cur, remaining)
        c.ret_cur = cur
        return cur, max(0.0, remaining - float(tb[cur]))

    def assign(self, crew: Crew, rid: int, eta_s: float) -> float:
        """Send ``crew`` to ``rid``; returns the minutes until it will have cleared the scene."""
        now = self.now
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
        self.arrive_at[rid] = now + eta_s / 60.0
        turnout = self.r_turnout_s[rid] if at_base else 0.0
        self._book(crew, rid, now, (eta_s - turnout) / 60.0)
        crew.ret_end = INF  # away from base until its next return trip ends
        if self.move_up and not team.free:
            self._cover(team)
        return self.arrive_at[rid] - now + self.r_work[rid]

    def _pull_next(self, crew: Crew) -> float | None:
        """A crew at its base takes the next waiting report it can reach: the wait until it clears."""
        rid = self.policy.next_job(self, crew)
        if rid is None:
            return None
        band = self.router.band_at(self.now)
        drive = self._fb[band][crew.base_i, self.r_node[rid]]
        if drive == INF:  # closed off for now (a disruption): wait for the road to open, then drive
            drive = self.router.wait_then_drive(int(self.world.base_idx[crew.base_i]), self.r_node[rid], self.now)
        if rid in self.need:
            return self._join(crew, rid, self.r_turnout_s[rid] + drive)
        return self.assign(crew, rid, self.r_turnout_s[rid] + drive)

    def _drive_from(self, node: int, rid: int, now: float) -> float:
        """Seconds to drive from ``node`` to report ``rid`` leaving now (waiting out a closure)."""
        band = self.router.band_at(now)
        tt = self.router.tt(band, node, self.r_node[rid])
        if tt == INF:  # closed off for now (a disruption): wait for the road to open, then drive
            tt = self.router.wait_then_drive(node, self.r_node[rid], now)
        return tt

    # ------------------------------------------------------------------ joint checks (联合检查)
    def _dispatch_joint(self, rid: int) -> tuple[int, float]:
        """A joint check: every team it needs sends its fastest free crews now; what is missing waits
        in those teams' queues. Returns ``(-2, 0)``: the crews to wake are in :meth:`_drain_joint`."""
        own = self.r_home[rid]
        need: dict[int, int] = {}
        for t, n in self.cat_need[self.r_cat[rid]]:
            t = own if t < 0 else t
            need[t] = need.get(t, 0) + n
        self.need[rid] = need
        self.on_job[rid] = []
        self.rep_i[rid, RepI.QUEUED] = 0
        for t in list(need):
            team = self.teams[t]
            while need.get(t, 0) > 0 and rid in self.need:
                crew, eta = self.best_crew(rid, team.free.values(), INF)
                if crew is None:
                    break
                wait = self._join(crew, rid, eta)
                if wait is not None:
                    self.joint_woken.append((crew.id, wait))
        if rid in self.need:  # crews still owed: wait in the owing teams' queues
            self._queued_joint.add(rid)
            self.rep_i[rid, RepI.QUEUED] = 1
            for t, n in self.need[rid].items():
                if n > 0:
                    heapq.heappush(self.queues[t], (self.r_prio[rid], self.r_ready[rid], rid))
        return -2, 0.0

    def _join(self, crew: Crew, rid: int, eta_s: float) -> float | None:
        """``crew`` goes to joint check ``rid``, arriving in ``eta_s`` seconds. When it is the last crew
        owed, the work starts when the last of them arrives and every crew is held until it is done:
        returns this crew's wait until then (the others go to ``joint_woken``); else None (it waits for
        the wake-up)."""
        now = self.now
        if crew.ret_band >= 0:
            self._book_return(crew, now)
            crew.ret_band = -1
        at_base = crew.ret_end <= now
        crew.team.free.pop(crew.id, None)
        if crew.state != BUSY:  # sent on from the scene it just cleared: busy without a break
            crew.state = BUSY
            crew.busy_start = now
        crew.job = rid
        crew.jobs += 1
        crew.ret_end = INF
        arrive = now + eta_s / 60.0
        self.crew_arrive[crew.id] = arrive
        turnout = self.r_turnout_s[rid] if at_base else 0.0
        self.crew_rows.append((rid, crew.id, now, arrive, (eta_s - turnout) / 60.0))
        jobs = self.on_job[rid]
        jobs.append(crew)
        t = crew.team.idx
        need = self.need[rid]
        need[t] -= 1
        if any(n > 0 for n in need.values()):
            if need[t] > 0 and rid in self._queued_joint:  # its team owes more: it stays at the head of the queue
                heapq.heappush(self.queues[t], (self.r_prio[rid], self.r_ready[rid], rid))
            return None
        self._queued_joint.discard(rid)
        # complete: on site when the last crew arrives; everyone is held for the work time
        del self.need[rid]
        last = max(jobs, key=lambda c: (self.crew_arrive[c.id], c.id))
        start = self.crew_arrive[last.id]
        self.arrive_at[rid] = start
        self.rep_f[rid, RepF.DISPATCHED] = now
        self.rep_f[rid, RepF.ARRIVE_AT] = start
        self.rep_f[rid, RepF.TRAVEL] = next(r[4] for r in reversed(self.crew_rows) if r[0] == rid and r[1] == last.id)
        lead = next((c for c in jobs if c.team.idx == self.r_home[rid]), jobs[0])
        self.rep_i[rid, RepI.TEAM] = lead.home.idx
        self.rep_i[rid, RepI.CREW] = lead.id
        end = start + self.r_work[rid]
        for c in jobs:
            if c is not crew:
                self.joint_woken.append((c.id, end - now))
        del self.on_job[rid]
        return end - now

    def drain_woken(self) -> Woken:
        out, self.joint_woken = self.joint_woken, []
        return out

    # ------------------------------------------------------------------ planned inspections: recall
    def _recallable(self, rid: int):
        """The serving team's crew on a planned inspection that reaches ``rid`` first (recall delay
        plus the drive from its base), or ``(None, inf)``."""
        team = self.teams[self.r_home[rid]]
        band = self.router.band_at(self.now)
        best, best_eta = None, INF
        for c in team.crews:
            if c.state == PLANNED and c.team is team:
                eta = self.recall_s + self._fb[band][c.base_i, self.r_node[rid]]
                if eta < best_eta:
                    best, best_eta = c, eta
        return best, best_eta

    def _recall(self, crew: Crew, rid: int, eta_s: float) -> float:
        """Recall ``crew`` from its planned inspection to ``rid``; it goes back to it after the job."""
        now = self.now
        self._end_plan(crew, now)
        self.duty_since[crew.id] = now
        crew.plan_after = True
        crew.state = BUSY
        crew.busy_start = now
        crew.job = rid
        crew.jobs += 1
        self.recalls += 1
        self.arrive_at[rid] = now + eta_s / 60.0
        self._book(crew, rid, now, (eta_s - self.recall_s) / 60.0)
        crew.ret_end = INF
        return self.arrive_at[rid] - now + self.r_work[rid]

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

    # ------------------------------------------------------------------ move-up (this dispatcher only)
    def _cover(self, team: TeamState) -> None:
        """Move-up: ``team`` has just lost its last free crew. The nearest other township team with at
        least ``move_up_min_free`` free crews at base sends one to ``team``'s base; it serves ``team``
        (its reports and queue) until one of ``team``'s own crews is free again."""
        if team.backup or team.free or team.on_duty == 0:
            return
        now = self.now
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
        now = self.now
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
