"""The dispatch model with compiled decisions: same SimPy processes, same results, a third of the time.

:class:`dispatch_sim.model.Simulation` is the readable model and runs any :class:`Policy`. For the
built-in policies on a graph with hub labels, :class:`CompiledSimulation` runs the same processes
(reports arrive on a SimPy clock, each crew is a generator that waits for a job, drives and works in
one timeout, then clears) but keeps state in arrays and makes each decision in one call to
:mod:`dispatch_sim._dispatch_kernels`. The two give identical incident tables
(``tests/test_compiled_model.py``); ``settings.compiled_dispatch = False`` turns this path off.
"""

from __future__ import annotations

import numpy as np
import simpy

from . import _dispatch_kernels as K
from .demand import Reports


def can_compile(world, policy_name: str) -> bool:
    """Whether a run can use the compiled dispatcher: one of the built-in policies (not a class
    registered in its place), a graph with hub labels, and no move-up (which only the readable
    dispatcher implements; the World warns when it is chosen)."""
    from . import settings
    from .policies import BUILT_IN, POLICIES

    return (settings.compiled_dispatch and policy_name in K.POLICY_CODES
            and POLICIES.get(policy_name) is BUILT_IN.get(policy_name) and world.router.has_labels
            and not getattr(world.scenario.dispatch, "move_up", False))  # move-up: readable dispatcher only


def _entry_point(kernel, *example_args):
    """The compiled entry point of ``kernel`` for the types of ``example_args`` (compiled or loaded
    from numba's disk cache once). Calling it skips the dispatcher's per-call type resolution, so
    every later call must pass arguments of exactly these types."""
    from numba import typeof

    return kernel.compile(tuple(typeof(a) for a in example_args))


# ------------------------------------------------------------------------------------ processes

def crew_cycle(env: simpy.Environment, sim: "CompiledSimulation", crew: int):
    """A crew's life, as :func:`dispatch_sim.model.crew_cycle` (the report source and shift manager
    are the model's own): wait until the job it is sent to is cleared (drive and work are one
    wait); take the next waiting job, or head back and wait again."""
    from .model import Wakeup

    timeout = env.timeout
    clear, st = sim.clear_scene, sim.state
    wake = sim.wake
    while True:
        wake[crew] = Wakeup(env)
        yield wake[crew]
        wait = clear(st, crew, env.now)
        while wait >= 0:
            yield timeout(wait)
            wait = clear(st, crew, env.now)


# ------------------------------------------------------------------------------------ simulation

class CompiledSimulation:
    """One replication on array state; decisions in compiled kernels (see the module docstring)."""

    def __init__(self, world, reports: Reports):
        from .model import duty_changes

        sc = world.scenario
        self.world = world
        self.env = env = simpy.Environment()
        self.horizon = sc.run.horizon_days * 1440.0
        self.reports = reports
        R = world.router
        n = len(reports)
        self.r_ready = reports.ready_min.tolist()
        self.rep_i = np.full((n, K.REPORT_INT_COLS), -1, dtype=np.int64)
        self.rep_i[:, [K.R_NODE, K.R_HOME, K.R_PRIO]] = np.stack([reports.node, reports.home_team, reports.priority], 1)
        self.rep_i[:, K.O_QUEUED] = 0
        self.rep_f = np.full((n, K.REPORT_FLOAT_COLS), np.nan)
        self.rep_f[:, [K.R_READY, K.R_TURNOUT_S, K.R_WORK]] = np.stack(
            [reports.ready_min, reports.turnout_min * 60.0, reports.work_min], 1)
        nteams = len(sc.teams)
        self.teams = np.zeros((nteams, K.TEAM_COLS), dtype=np.int64)
        home_counts = np.bincount(reports.home_team.astype(np.int64), minlength=nteams)[:nteams]
        self.teams[:, K.T_QSTART] = np.concatenate([[0], np.cumsum(home_counts)[:-1]])
        self.queue = np.zeros(max(n, 1), dtype=np.int64)
        names, crew_rows = [], []
        for i, t in enumerate(sc.teams):
            self.teams[i, K.T_BACKUP] = int(t.backup)
            self.teams[i, K.T_CREW0] = len(crew_rows)
            self.teams[i, K.T_NCREW] = t.max_crews()
            for k in range(t.max_crews()):
                names.append(f"{t.name}#{k + 1}")
                crew_rows.append((i, k))
        nc = len(crew_rows)
        self.crew_names = names
        self.crew_i = np.zeros((nc, K.CREW_INT_COLS), dtype=np.int64)
        self.crew_f = np.zeros((nc, K.CREW_FLOAT_COLS))
        for c, (i, k) in enumerate(crew_rows):
            self.crew_i[c, [K.C_BASE, K.C_TEAM, K.C_NODE, K.C_RET_BAND, K.C_RET_CUR, K.C_STATE, K.C_JOB, K.C_K]] = (
                i, i, world.base_idx[i], -1, -1, K.OFF, -1, k)
        self.crew_f[:, K.F_DUTY_SINCE] = np.nan
        self.meta = np.zeros(K.META_COLS, dtype=np.int64)
        self.meta[K.M_POLICY] = K.POLICY_CODES[sc.dispatch.policy]
        self.meta[K.M_QUEUE] = K.QUEUE_CODES[sc.dispatch.queue]
        params = np.array([sc.dispatch.mutual_aid_threshold_min * 60.0, sc.dispatch.mutual_aid_max_eta_min * 60.0])
        self.woken = np.zeros(max(nc, 1), dtype=np.int64)
        self.waits = np.zeros(max(nc, 1))
        self.wake: list = [None] * nc
        self.state = K.DispatchState(*R.dispatch_arrays(), self.teams, self.crew_i, self.crew_f, self.rep_i,
                                     self.rep_f, self.queue, self.meta, params, self.woken, self.waits,
                                     np.zeros(max(nc, 1), dtype=np.int64))
        self._changes = [duty_changes(t, self.horizon) for t in sc.teams]
        self._bind(env)

    def _bind(self, env) -> None:
        """The per-event entry points: one argument (the :class:`DispatchState`) for numba to unbox,
        and the compiled function's entry point for these exact types (numba's dispatcher would
        work the types out again on every call)."""
        st = self.state
        dispatch_report = _entry_point(K.dispatch, st, 0, 0.0)
        self.clear_scene = _entry_point(K.clear, st, 0, 0.0)  # called by crew_cycle as is
        wake = self.wake

        def dispatch(rid):
            crew, wait = dispatch_report(st, rid, env.now)
            if crew >= 0:
                wake[crew].succeed_in(wait)

        self.dispatch = dispatch

    def set_on_duty(self, team: int, count: int) -> None:
        n = K.shift_change(self.state, team, count, float(self.env.now))
        for j in range(n):
            self.wake[int(self.woken[j])].succeed_in(float(self.waits[j]))

    def run(self, replication: int = 0):
        from .model import ReplicationResult, report_source, shift_manager

        env = self.env
        sc = self.world.scenario
        for c in range(len(self.crew_names)):
            env.process(crew_cycle(env, self, c))
        for i, changes in enumerate(self._changes):
            env.process(shift_manager(env, self, i, changes))
        env.process(report_source(env, self))
        env.run(until=self.horizon)
        events = next(env._eid)  # SimPy's event counter: how many events were scheduled
        self._close_books(self.horizon)
        self.world.router.stats["label_queries"] += int(self.meta[K.M_LOOKUPS])
        out_f, out_i, ci, cf = self.rep_f, self.rep_i, self.crew_i, self.crew_f
        return ReplicationResult(
            replication=replication, reports=self.reports, dispatched_min=out_f[:, K.O_DISPATCHED].copy(),
            arrived_min=out_f[:, K.O_ARRIVED].copy(), cleared_min=out_f[:, K.O_CLEARED].copy(),
            team=out_i[:, K.O_TEAM].astype(np.int16), crew=out_i[:, K.O_CREW].astype(np.int32),
            travel_min=out_f[:, K.O_TRAVEL].copy(), queued=out_i[:, K.O_QUEUED].astype(bool),
            crew_names=list(self.crew_names), crew_team=ci[:, K.C_TEAM].copy(),
            crew_busy_min=cf[:, K.F_BUSY_TOTAL].copy(), crew_duty_min=cf[:, K.F_DUTY_MIN].copy(),
            horizon_min=self.horizon, warmup_min=sc.run.warmup_days * 1440.0, events=events,
            crew_return_min=cf[:, K.F_RET_TOTAL].copy(),
        )

    def _close_books(self, now: float) -> None:
        """Jobs on scene at the horizon count as arrived; busy and on-duty time run to the horizon."""
        ci, cf, out_f = self.crew_i, self.crew_f, self.rep_f
        for c in range(len(ci)):
            job = ci[c, K.C_JOB]
            if job >= 0 and out_f[job, K.O_ARRIVE_AT] < now:
                out_f[job, K.O_ARRIVED] = out_f[job, K.O_ARRIVE_AT]
            if ci[c, K.C_STATE] == K.BUSY:
                cf[c, K.F_BUSY_TOTAL] += now - cf[c, K.F_BUSY_START]
            elif ci[c, K.C_RET_BAND] >= 0:
                K.book_return(c, now, cf)
            if not np.isnan(cf[c, K.F_DUTY_SINCE]):
                cf[c, K.F_DUTY_MIN] += now - cf[c, K.F_DUTY_SINCE]
