"""Compiled dispatcher for the built-in policies (numba): the same decisions as
:class:`dispatch_sim.model.Simulation`, on array state, in one call per SimPy event.

A report costs three SimPy events; what made it cost fifty was the Python around them: generators
over free crews, crew objects, small numpy arrays per decision. Here the whole decision (which crew,
its exact ETA from where it is, the bookkeeping) is one call into compiled code, and the SimPy
processes in :mod:`dispatch_sim.compiled_model` only keep the clock. ``tests/test_compiled_model.py``
holds the two implementations to identical incident tables.

State layout (columns of the int and float arrays):
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import walk_to_base
from .hub_labels import label_distance

# crew int columns
C_BASE, C_TEAM, C_NODE, C_RET_BAND, C_RET_CUR, C_STATE, C_SEQ, C_JOB, C_OFF_AFTER, C_JOBS, C_K = range(11)
CREW_INT_COLS = 11
# crew float columns
F_RET_START, F_RET_END, F_BUSY_START, F_BUSY_TOTAL, F_DUTY_SINCE, F_DUTY_MIN = range(6)
CREW_FLOAT_COLS = 6
# team columns
T_QSTART, T_QLEN, T_BACKUP, T_CREW0, T_NCREW = range(5)
TEAM_COLS = 5
# report int columns: in (node, home, priority), out (team, crew, queued)
R_NODE, R_HOME, R_PRIO, O_TEAM, O_CREW, O_QUEUED = range(6)
REPORT_INT_COLS = 6
# report float columns: in (ready, turnout s, work), out (dispatched, arrival, travel, arrived, cleared)
R_READY, R_TURNOUT_S, R_WORK, O_DISPATCHED, O_ARRIVE_AT, O_TRAVEL, O_ARRIVED, O_CLEARED = range(8)
REPORT_FLOAT_COLS = 8
# meta: next free-list sequence number, label lookups, policy
M_SEQ, M_LOOKUPS, M_POLICY = range(3)
POLICY_CODES = {"home_team": 0, "nearest": 1, "home_then_mutual_aid": 2}
IDLE, BUSY, OFF = 0, 1, 2
BAND_RES_MIN = 5  # matches speeds.BandTable.RES_MIN

__doc__ += f"""
- crews (int): base, team, node, return band, return cursor, state, free-list sequence, job, off
  after job, jobs, index in team; crews (float): return start/end, busy start/total, on duty
  since/total; teams: queue start/length, backup, first crew, crews;
- reports (int): node, home team, priority | team, crew, queued; reports (float): ready, turnout s,
  work min | dispatched, arrival, travel, arrived, cleared (inputs | outputs);
- ``from_base[band, node, base]`` (node-major: one report's row of every base is one cache line)
  and ``to_base[band, base, node]`` (base-major: a return route is walked along one row).
"""


@njit(cache=True, nogil=True)
def _band(table, now):
    return table[int(now // BAND_RES_MIN) % table.shape[0]]


# ------------------------------------------------------------------ waiting reports
@njit(cache=True, nogil=True, inline="always")
def _before(a, b, rep_i, rep_f):
    """Queue order of the Python model's heap items ``(priority, ready, rid)``."""
    pa, pb = rep_i[a, R_PRIO], rep_i[b, R_PRIO]
    if pa != pb:
        return pa < pb
    ra, rb = rep_f[a, R_READY], rep_f[b, R_READY]
    if ra != rb:
        return ra < rb
    return a < b


@njit(cache=True, nogil=True)
def _enqueue(teams, queue, t, rid, rep_i, rep_f):
    s = teams[t, T_QSTART]
    i = teams[t, T_QLEN]
    teams[t, T_QLEN] = i + 1
    while i > 0:
        parent = (i - 1) // 2
        if _before(rid, queue[s + parent], rep_i, rep_f):
            queue[s + i] = queue[s + parent]
            i = parent
        else:
            break
    queue[s + i] = rid


@njit(cache=True, nogil=True)
def _dequeue(teams, queue, t, rep_i, rep_f):
    s = teams[t, T_QSTART]
    top = queue[s]
    size = teams[t, T_QLEN] - 1
    teams[t, T_QLEN] = size
    if size > 0:
        last = queue[s + size]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and _before(queue[s + c + 1], queue[s + c], rep_i, rep_f):
                c += 1
            if _before(queue[s + c], last, rep_i, rep_f):
                queue[s + i] = queue[s + c]
                i = c
            else:
                break
        queue[s + i] = last
    return top


@njit(cache=True, nogil=True)
def _pop_best(teams, queue, rep_i, rep_f, only):
    """Most urgent, oldest waiting report of team ``only`` (or of every team when -1); -1 if none."""
    best_t = -1
    for t in range(teams.shape[0]):
        if (only >= 0 and t != only) or teams[t, T_QLEN] == 0:
            continue
        if best_t < 0 or _before(queue[teams[t, T_QSTART]], queue[teams[best_t, T_QSTART]], rep_i, rep_f):
            best_t = t
    if best_t < 0:
        return -1
    return _dequeue(teams, queue, best_t, rep_i, rep_f)


@njit(cache=True, nogil=True)
def _next_job(crew, crew_i, teams, queue, rep_i, rep_f, meta):
    """The policy's ``next_job``: own team's queue first (all queues for squads and ``nearest``),
    then, for mutual aid, any team's."""
    t = crew_i[crew, C_TEAM]
    policy = meta[M_POLICY]
    if policy == 1 or teams[t, T_BACKUP]:
        return _pop_best(teams, queue, rep_i, rep_f, -1)
    job = _pop_best(teams, queue, rep_i, rep_f, t)
    if job < 0 and policy == 2:
        job = _pop_best(teams, queue, rep_i, rep_f, -1)
    return job


# ------------------------------------------------------------------ choosing a crew
@njit(cache=True, nogil=True)
def _free_crews(teams, crew_i, mode, team, buf):
    """Free crews in the Python model's iteration order (team by team, then in the order they
    became free). Mode 0: crews of ``team``; 1: every team but ``team``; 2: backup teams."""
    n = 0
    for t in range(teams.shape[0]):
        if mode == 0 and t != team:
            continue
        if mode == 1 and t == team:
            continue
        if mode == 2 and not teams[t, T_BACKUP]:
            continue
        first = n
        for c in range(teams[t, T_CREW0], teams[t, T_CREW0] + teams[t, T_NCREW]):
            if crew_i[c, C_STATE] == IDLE:
                # insertion by free-list sequence
                i = n
                while i > first and crew_i[buf[i - 1], C_SEQ] > crew_i[c, C_SEQ]:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = c
                n += 1
    return n


@njit(cache=True, nogil=True)
def _best(cands, nc, r, turnout, band, now, limit, crew_i, crew_f, from_base, to_base, nxt, lptr, lhub, ls, meta):
    """Fastest candidate to node ``r`` under ``limit`` seconds: ``(crew, eta)`` or ``(-1, limit)``.
    Crews at base first (matrix lookup plus turnout), then crews on the road (exact, by labels,
    from the next node on their way back)."""
    best, best_eta = -1, limit
    for i in range(nc):
        c = cands[i]
        if crew_f[c, F_RET_END] <= now:
            eta = turnout + from_base[band, r, crew_i[c, C_BASE]]
            if eta < best_eta:
                best, best_eta = c, eta
    for i in range(nc):
        c = cands[i]
        if crew_f[c, F_RET_END] <= now:
            continue
        rb, b = crew_i[c, C_RET_BAND], crew_i[c, C_BASE]
        tbb = to_base[rb, b]
        remaining = tbb[crew_i[c, C_NODE]] - (now - crew_f[c, F_RET_START]) * 60.0
        cur = walk_to_base(nxt[rb, b], tbb, crew_i[c, C_RET_CUR], remaining)
        crew_i[c, C_RET_CUR] = cur
        off = max(0.0, remaining - tbb[cur])
        meta[M_LOOKUPS] += 1
        eta = off + label_distance(lptr[1, band], lptr[0, band], lhub, ls, cur, r)
        if eta < best_eta:
            best, best_eta = c, eta
    return best, best_eta


@njit(cache=True, nogil=True)
def _assign(crew, rid, eta, now, crew_i, crew_f, rep_i, rep_f):
    """Send ``crew`` to report ``rid``; returns the SimPy wait until it clears the scene (min)."""
    if crew_i[crew, C_RET_BAND] >= 0:  # an interrupted (or finished) return trip counts as busy
        crew_f[crew, F_BUSY_TOTAL] += max(0.0, min(now, crew_f[crew, F_RET_END]) - crew_f[crew, F_RET_START])
        crew_i[crew, C_RET_BAND] = -1
    crew_i[crew, C_STATE] = BUSY
    crew_f[crew, F_BUSY_START] = now
    crew_i[crew, C_JOB] = rid
    crew_i[crew, C_JOBS] += 1
    turnout = rep_f[rid, R_TURNOUT_S] if crew_f[crew, F_RET_END] <= now else 0.0
    arrive_at = now + eta / 60.0
    rep_f[rid, O_DISPATCHED] = now
    rep_f[rid, O_ARRIVE_AT] = arrive_at
    rep_f[rid, O_TRAVEL] = (eta - turnout) / 60.0
    rep_i[rid, O_TEAM] = crew_i[crew, C_TEAM]
    rep_i[rid, O_CREW] = crew
    crew_f[crew, F_RET_END] = np.inf
    return arrive_at - now + rep_f[rid, R_WORK]


@njit(cache=True, nogil=True)
def dispatch_report(rid, now, band_table, from_base, to_base, nxt, lptr, lhub, ls, teams, crew_i, crew_f, rep_i, rep_f,
                    queue, meta, threshold_s, max_aid_s):
    """A report reaches the dispatcher: choose a crew by the policy or queue the report.
    Returns ``(crew, wait in minutes until it clears)``, or ``(-1, 0)`` when queued."""
    band = _band(band_table, now)
    r = rep_i[rid, R_NODE]
    home = rep_i[rid, R_HOME]
    turnout = rep_f[rid, R_TURNOUT_S]
    policy = meta[M_POLICY]
    buf = np.empty(crew_i.shape[0], np.int64)
    if policy == 1:  # nearest
        nc = _free_crews(teams, crew_i, 1, -1, buf)
        crew, eta = _best(buf, nc, r, turnout, band, now, np.inf, crew_i, crew_f, from_base, to_base, nxt, lptr, lhub, ls, meta)
    else:
        nc = _free_crews(teams, crew_i, 0, home, buf)
        crew, eta = _best(buf, nc, r, turnout, band, now, np.inf, crew_i, crew_f, from_base, to_base, nxt, lptr, lhub, ls, meta)
        if policy == 0:
            if crew < 0:
                nc = _free_crews(teams, crew_i, 2, -1, buf)
                if nc:
                    crew, eta = _best(buf, nc, r, turnout, band, now, np.inf, crew_i, crew_f, from_base, to_base, nxt, lptr,
                                      lhub, ls, meta)
        elif not (crew >= 0 and eta <= threshold_s):
            nc = _free_crews(teams, crew_i, 1, home, buf)
            aid, aid_eta = _best(buf, nc, r, turnout, band, now, min(eta, max_aid_s + 1e-9), crew_i, crew_f, from_base, to_base,
                                 nxt, lptr, lhub, ls, meta)
            if aid >= 0 and aid_eta < eta and aid_eta <= max_aid_s:
                crew, eta = aid, aid_eta
    if crew < 0:
        rep_i[rid, O_QUEUED] = 1
        _enqueue(teams, queue, home, rid, rep_i, rep_f)
        return -1, 0.0
    return crew, _assign(crew, rid, eta, now, crew_i, crew_f, rep_i, rep_f)


@njit(cache=True, nogil=True)
def _start_return(crew, now, band_table, to_base, crew_i, crew_f):
    band = _band(band_table, now)
    tt = to_base[band, crew_i[crew, C_BASE], crew_i[crew, C_NODE]]
    crew_f[crew, F_RET_START] = now
    crew_f[crew, F_RET_END] = now + tt / 60.0
    crew_i[crew, C_RET_BAND] = band if tt > 0 else -1
    crew_i[crew, C_RET_CUR] = crew_i[crew, C_NODE]


@njit(cache=True, nogil=True)
def _end_duty(crew, now, crew_f):
    if not np.isnan(crew_f[crew, F_DUTY_SINCE]):
        crew_f[crew, F_DUTY_MIN] += now - crew_f[crew, F_DUTY_SINCE]
        crew_f[crew, F_DUTY_SINCE] = np.nan


@njit(cache=True, nogil=True)
def _make_free(crew, crew_i, meta):
    crew_i[crew, C_STATE] = IDLE
    crew_i[crew, C_SEQ] = meta[M_SEQ]
    meta[M_SEQ] += 1


@njit(cache=True, nogil=True)
def clear_scene(crew, now, band_table, to_base, lptr, lhub, ls, teams, crew_i, crew_f, rep_i, rep_f,
                queue, meta):
    """``crew`` finished on scene: book the job, then take the next waiting report from here or head
    back to base. Returns the wait in minutes until the next job clears, or -1 when none."""
    rid = crew_i[crew, C_JOB]
    rep_f[rid, O_ARRIVED] = rep_f[rid, O_ARRIVE_AT]
    rep_f[rid, O_CLEARED] = now
    crew_i[crew, C_NODE] = rep_i[rid, R_NODE]
    crew_i[crew, C_JOB] = -1
    if not crew_i[crew, C_OFF_AFTER]:
        nxt_rid = _next_job(crew, crew_i, teams, queue, rep_i, rep_f, meta)
        if nxt_rid >= 0:
            band = _band(band_table, now)
            meta[M_LOOKUPS] += 1
            tt = label_distance(lptr[1, band], lptr[0, band], lhub, ls, crew_i[crew, C_NODE], rep_i[nxt_rid, R_NODE])
            arrive_at = now + tt / 60.0
            rep_f[nxt_rid, O_DISPATCHED] = now
            rep_f[nxt_rid, O_ARRIVE_AT] = arrive_at
            rep_f[nxt_rid, O_TRAVEL] = tt / 60.0
            rep_i[nxt_rid, O_TEAM] = crew_i[crew, C_TEAM]
            rep_i[nxt_rid, O_CREW] = crew
            crew_i[crew, C_JOB] = nxt_rid
            crew_i[crew, C_JOBS] += 1
            return arrive_at - now + rep_f[nxt_rid, R_WORK]
    crew_f[crew, F_BUSY_TOTAL] += now - crew_f[crew, F_BUSY_START]
    _start_return(crew, now, band_table, to_base, crew_i, crew_f)
    if crew_i[crew, C_OFF_AFTER]:
        crew_i[crew, C_OFF_AFTER] = 0
        crew_i[crew, C_STATE] = OFF
        _end_duty(crew, now, crew_f)
    else:
        _make_free(crew, crew_i, meta)
    return -1.0


@njit(cache=True, nogil=True)
def set_on_duty(team, count, now, band_table, from_base, teams, crew_i, crew_f, rep_i, rep_f, queue, meta,
                woken, waits):
    """Shift change: the first ``count`` crews of ``team`` on duty, the rest off (busy crews finish
    their job first). A crew coming on duty takes a waiting report at once. Fills ``woken`` and
    ``waits`` with the crews sent out and returns how many."""
    n_woken = 0
    for crew in range(teams[team, T_CREW0], teams[team, T_CREW0] + teams[team, T_NCREW]):
        should = crew_i[crew, C_K] < count
        state = crew_i[crew, C_STATE]
        if should and state == OFF and not crew_i[crew, C_OFF_AFTER]:
            _make_free(crew, crew_i, meta)
            crew_f[crew, F_DUTY_SINCE] = now
            rid = _next_job(crew, crew_i, teams, queue, rep_i, rep_f, meta)
            if rid >= 0:
                eta = rep_f[rid, R_TURNOUT_S] + from_base[_band(band_table, now), rep_i[rid, R_NODE], crew_i[crew, C_BASE]]
                woken[n_woken] = crew
                waits[n_woken] = _assign(crew, rid, eta, now, crew_i, crew_f, rep_i, rep_f)
                n_woken += 1
        elif should and crew_i[crew, C_OFF_AFTER]:
            crew_i[crew, C_OFF_AFTER] = 0
        elif not should and state == IDLE:
            crew_i[crew, C_STATE] = OFF
            _end_duty(crew, now, crew_f)
        elif not should and state == BUSY:
            crew_i[crew, C_OFF_AFTER] = 1
    return n_woken
