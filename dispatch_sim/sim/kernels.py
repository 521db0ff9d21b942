"""The compiled dispatcher's decisions (numba): the same decisions as the readable dispatcher
(:mod:`dispatch_sim.sim.readable`), on array state, in one call per SimPy event.

A report costs two SimPy events (its arrival, its clearing); what made it cost fifty bare timeouts
was the Python around them: generators over free crews, crew objects, small numpy arrays per
decision, searches. Here a whole decision (which crew, its exact ETA from where it is, the
bookkeeping) is one call into compiled code with one argument (:class:`DispatchState`); the engine
(:mod:`dispatch_sim.sim.engine`) keeps the clock. ``tests/test_dispatchers.py`` holds the two
dispatchers to identical incident tables over random seeds, loads, policies, shifts and priorities.

The column layout of every array is :mod:`dispatch_sim.sim.layout` (its IntEnums are compile-time
constants here). The travel-time arrays come from :meth:`dispatch_sim.routing.Router.dispatch_arrays`:

- ``from_base[band, node, base]`` and ``to_base[band, node, base]``: node-major, so one node's
  times from and to every base are one cache line (ETAs from base, lower bounds);
- ``route[band, base, node] = (seconds to the base, next hop)``: a return route is walked one
  cache line per node.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.experimental import structref

from .._kernels import _alt_bound
from ..hub_labels import label_distance
from .layout import (
    BAND_RES_MIN,
    CrewF as CF,
    CrewI as CI,
    CrewState as CS,
    JointI as JI,
    Meta as M,
    PolicyCode as PC,
    QueueCode as QC,
    RepF as RF,
    RepI as RI,
    TeamCol as TC,
    TeamLevel as TL,
)


# ------------------------------------------------------------------ the state: one argument per call
@structref.register
class DispatchStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


STATE_FIELDS = ("band_table", "from_base", "to_base", "route", "label_ptr", "label_hub", "label_s", "teams", "crew_i",
                "crew_f", "rep_i", "rep_f", "queue", "meta", "params", "woken", "waits", "buf",
                "cat_jteam", "cat_jnum", "cat_jlen", "jteam", "jrem", "jstate", "jcrews", "jrows", "jwoken", "jwaits")


class DispatchState(structref.StructRefProxy):
    """Every array of one replication in one object, in :data:`STATE_FIELDS` order: a call from
    Python passes (and numba unboxes) one argument instead of twenty-eight. ``params`` holds the
    mutual-aid threshold and maximum and the recall delay (s); ``woken``/``waits`` return the crews a
    shift change sends out; ``buf`` is scratch for a decision's candidate crews; the ``j…`` arrays are
    the joint checks' (:func:`dispatch_sim.sim.layout.joint_tables`), ``jwoken``/``jwaits`` the crews
    of joint checks completed by the last call."""

    def __new__(cls, *arrays):
        # numba's own proxy constructor is compiled afresh in every process (~0.9 s and ~80 MB of
        # LLVM); this one is cached on disk like every other kernel.
        return _new_state(*arrays)


structref.define_proxy(DispatchState, DispatchStateType, list(STATE_FIELDS))


@njit(cache=True, nogil=True)
def _new_state(band_table, from_base, to_base, route, label_ptr, label_hub, label_s, teams, crew_i, crew_f,
               rep_i, rep_f, queue, meta, params, woken, waits, buf, cat_jteam, cat_jnum, cat_jlen, jteam,
               jrem, jstate, jcrews, jrows, jwoken, jwaits):
    return DispatchState(band_table, from_base, to_base, route, label_ptr, label_hub, label_s, teams, crew_i,
                         crew_f, rep_i, rep_f, queue, meta, params, woken, waits, buf, cat_jteam, cat_jnum,
                         cat_jlen, jteam, jrem, jstate, jcrews, jrows, jwoken, jwaits)


# the constructor's parameters are STATE_FIELDS, in order
assert _new_state.py_func.__code__.co_varnames[:_new_state.py_func.__code__.co_argcount] == STATE_FIELDS


@njit(cache=True, nogil=True)
def _band(table, now):
    return table[int(now // BAND_RES_MIN) % table.shape[0]]


# ------------------------------------------------------------------ waiting reports
@njit(cache=True, nogil=True, inline="always")
def _before(a, b, rep_i, rep_f):
    """Queue order of the readable dispatcher's heap items ``(priority, ready, rid)``."""
    pa, pb = rep_i[a, RI.PRIO], rep_i[b, RI.PRIO]
    if pa != pb:
        return pa < pb
    ra, rb = rep_f[a, RF.READY], rep_f[b, RF.READY]
    if ra != rb:
        return ra < rb
    return a < b


@njit(cache=True, nogil=True)
def _enqueue(teams, queue, t, rid, rep_i, rep_f):
    s = teams[t, TC.QSTART]
    i = teams[t, TC.QLEN]
    teams[t, TC.QLEN] = i + 1
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
    s = teams[t, TC.QSTART]
    top = queue[s]
    size = teams[t, TC.QLEN] - 1
    teams[t, TC.QLEN] = size
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
def _pop_best(teams, queue, rep_i, rep_f, only, own):
    """Most urgent, oldest waiting report of team ``only``, or when -1 of every open queue (the
    townships' and team ``own``'s: a district team's referrals only its own crews take); -1 if none."""
    best_t = -1
    for t in range(teams.shape[0]):
        if (only >= 0 and t != only) or teams[t, TC.QLEN] == 0:
            continue
        if only < 0 and teams[t, TC.LEVEL] == TL.DISTRICT and t != own:
            continue
        if best_t < 0 or _before(queue[teams[t, TC.QSTART]], queue[teams[best_t, TC.QSTART]], rep_i, rep_f):
            best_t = t
    if best_t < 0:
        return -1, -1
    return _dequeue(teams, queue, best_t, rep_i, rep_f), best_t


@njit(cache=True, nogil=True)
def _pop(st, only, own, src, base, now):
    """:func:`_pop_best`, skipping (and keeping, in order) reports the crew cannot reach now while a
    closure exists in the run: from node ``src`` by labels, or from base ``base`` by the base matrix.
    The twin of :func:`dispatch_sim.policies.pop_best` with ``sim.reachable_from(crew)``."""
    teams, queue, rep_i, rep_f = st.teams, st.queue, st.rep_i, st.rep_f
    closed = st.meta[M.CLOSED] != 0
    if not closed and st.meta[M.JOINT] == 0:
        return _pop_best(teams, queue, rep_i, rep_f, only, own)[0]
    band = _band(st.band_table, now)
    lptr = st.label_ptr
    held = np.empty(queue.shape[0], dtype=np.int64)
    held_t = np.empty(queue.shape[0], dtype=np.int64)
    nh = 0
    found = -1
    while True:
        rid, t = _pop_best(teams, queue, rep_i, rep_f, only, own)
        if rid < 0:
            break
        ok = True
        if st.jstate[rid, JI.STATE] == 1:  # a joint check: only from its own team's queue, if it owes a crew
            ok = t == own and _owed(st, rid, own) > 0
        if ok and closed:
            r = rep_i[rid, RI.NODE]
            if base >= 0:
                d = st.from_base[band, r, base]
            else:
                st.meta[M.LOOKUPS] += 1
                d = label_distance(lptr[1, band], lptr[0, band], st.label_hub, st.label_s, src, r)
            ok = d < np.inf
        if ok:
            found = rid
            break
        held[nh] = rid
        held_t[nh] = t
        nh += 1
    for i in range(nh):
        _enqueue(teams, queue, held_t[i], held[i], rep_i, rep_f)
    return found


# ------------------------------------------------------------------ joint checks
@njit(cache=True, nogil=True)
def _owed(st, rid, team):
    """Crews team ``team`` still owes joint check ``rid``."""
    for j in range(st.jstate[rid, JI.N]):
        if st.jteam[rid, j] == team:
            return st.jrem[rid, j]
    return 0


@njit(cache=True, nogil=True)
def _dispatch_joint(st, rid, now):
    """A joint check reaches the dispatcher: every team it needs sends its fastest free crews now; what
    is missing waits in the owing teams' queues. The twin of ``ReadableDispatcher._dispatch_joint``."""
    rep_i = st.rep_i
    own = rep_i[rid, RI.HOME]
    cat = rep_i[rid, RI.CAT]
    n = 0
    for j in range(st.cat_jlen[cat]):  # merge the teams in the order they are first named
        t = st.cat_jteam[cat, j]
        if t == -1:
            t = own
        k = 0
        while k < n and st.jteam[rid, k] != t:
            k += 1
        if k == n:
            st.jteam[rid, n] = t
            st.jrem[rid, n] = 0
            n += 1
        st.jrem[rid, k] += st.cat_jnum[cat, j]
    st.jstate[rid, JI.N] = n
    st.jstate[rid, JI.STATE] = 1
    rep_i[rid, RI.QUEUED] = 0
    band = _band(st.band_table, now)
    r = rep_i[rid, RI.NODE]
    turnout = st.rep_f[rid, RF.TURNOUT_S]
    for k in range(n):
        t = st.jteam[rid, k]
        while st.jstate[rid, JI.STATE] == 1 and st.jrem[rid, k] > 0:
            crew, eta = _best(st, _free_crews(st.teams, st.crew_i, 0, t, st.buf), r, turnout, band, now, np.inf)
            if crew < 0:
                break
            wait = _join(st, crew, rid, eta, now)
            if wait >= 0:
                _wake_joint(st, crew, wait)
    if st.jstate[rid, JI.STATE] == 1:  # crews still owed: wait in the owing teams' queues
        st.jstate[rid, JI.QUEUED] = 1
        rep_i[rid, RI.QUEUED] = 1
        for k in range(n):
            if st.jrem[rid, k] > 0:
                _enqueue(st.teams, st.queue, st.jteam[rid, k], rid, rep_i, st.rep_f)


@njit(cache=True, nogil=True)
def _wake_joint(st, crew, wait):
    k = st.meta[M.NJW]
    st.jwoken[k] = crew
    st.jwaits[k] = wait
    st.meta[M.NJW] = k + 1


@njit(cache=True, nogil=True)
def _join(st, crew, rid, eta, now):
    """``crew`` goes to joint check ``rid``, arriving in ``eta`` seconds. When it is the last crew owed,
    the work starts when the last of them arrives and every crew is held until it is done: returns this
    crew's wait until then (the others are queued to wake); else -1 (it waits for the wake-up). The
    twin of ``ReadableDispatcher._join``."""
    crew_i, crew_f, rep_i, rep_f = st.crew_i, st.crew_f, st.rep_i, st.rep_f
    if crew_i[crew, CI.RET_BAND] >= 0:
        book_return(crew, now, crew_f)
        crew_i[crew, CI.RET_BAND] = -1
    at_base = crew_f[crew, CF.RET_END] <= now
    if crew_i[crew, CI.STATE] != CS.BUSY:  # sent on from the scene it just cleared: busy without a break
        crew_i[crew, CI.STATE] = CS.BUSY
        crew_f[crew, CF.BUSY_START] = now
    crew_i[crew, CI.JOB] = rid
    crew_i[crew, CI.JOBS] += 1
    crew_f[crew, CF.RET_END] = np.inf
    arrive = now + eta / 60.0
    turnout = rep_f[rid, RF.TURNOUT_S] if at_base else 0.0
    crew_f[crew, CF.J_ARRIVE] = arrive
    crew_f[crew, CF.J_TRAVEL] = (eta - turnout) / 60.0
    row = st.meta[M.JROWS]
    st.meta[M.JROWS] = row + 1
    st.jrows[row, 0] = rid
    st.jrows[row, 1] = crew
    st.jrows[row, 2] = now
    st.jrows[row, 3] = arrive
    st.jrows[row, 4] = crew_f[crew, CF.J_TRAVEL]
    m = st.jstate[rid, JI.JOINED]
    st.jcrews[rid, m] = crew
    st.jstate[rid, JI.JOINED] = m + 1
    t = crew_i[crew, CI.TEAM]
    mine = 0
    left = 0
    for k in range(st.jstate[rid, JI.N]):
        if st.jteam[rid, k] == t:
            st.jrem[rid, k] -= 1
            mine = st.jrem[rid, k]
        left += st.jrem[rid, k]
    if left > 0:
        if mine > 0 and st.jstate[rid, JI.QUEUED]:  # its team owes more: it stays at the head of the queue
            _enqueue(st.teams, st.queue, t, rid, rep_i, rep_f)
        return -1.0
    # complete: on site when the last crew arrives; everyone is held for the work time
    st.jstate[rid, JI.STATE] = 2
    st.jstate[rid, JI.QUEUED] = 0
    joined = m + 1
    last = st.jcrews[rid, 0]
    lead = -1
    for i in range(joined):
        c = st.jcrews[rid, i]
        if crew_f[c, CF.J_ARRIVE] > crew_f[last, CF.J_ARRIVE] or (
                crew_f[c, CF.J_ARRIVE] == crew_f[last, CF.J_ARRIVE] and c > last):
            last = c
        if lead < 0 and crew_i[c, CI.TEAM] == rep_i[rid, RI.HOME]:
            lead = c
    if lead < 0:
        lead = st.jcrews[rid, 0]
    start = crew_f[last, CF.J_ARRIVE]
    rep_f[rid, RF.DISPATCHED] = now
    rep_f[rid, RF.ARRIVE_AT] = start
    rep_f[rid, RF.TRAVEL] = crew_f[last, CF.J_TRAVEL]
    rep_i[rid, RI.TEAM] = crew_i[lead, CI.TEAM]
    rep_i[rid, RI.CREW] = lead
    end = start + rep_f[rid, RF.WORK]
    for i in range(joined):
        c = st.jcrews[rid, i]
        if c != crew:
            _wake_joint(st, c, end - now)
    return end - now


@njit(cache=True, nogil=True)
def _next_job(st, crew, src, base, now):
    """The policy's ``next_job``: own team's queue first (all queues for squads and ``nearest``),
    then, for mutual aid, any team's; only reports the crew can reach now (see :func:`_pop`)."""
    teams = st.teams
    t = st.crew_i[crew, CI.TEAM]
    policy = st.meta[M.POLICY]
    if teams[t, TC.LEVEL] == TL.DISTRICT and not teams[t, TC.BACKUP]:  # serves its own referrals only
        return _pop(st, t, t, src, base, now)
    if policy == PC.NEAREST or teams[t, TC.BACKUP]:
        return _pop(st, -1, t, src, base, now)
    # mutual aid, one first-come queue for everyone
    if policy == PC.HOME_THEN_MUTUAL_AID and st.meta[M.QUEUE] == QC.FIFO:
        return _pop(st, -1, t, src, base, now)
    job = _pop(st, t, t, src, base, now)
    if job < 0 and policy == PC.HOME_THEN_MUTUAL_AID:
        job = _pop(st, -1, t, src, base, now)
    return job


# ------------------------------------------------------------------ choosing a crew
@njit(cache=True, nogil=True)
def _free_crews(teams, crew_i, mode, team, buf):
    """Free crews in the readable dispatcher's iteration order (team by team, then in the order they
    became free). Mode 0: crews of ``team``; 1: every team but ``team``; 2: backup teams."""
    n = 0
    for t in range(teams.shape[0]):
        if mode == 0 and t != team:
            continue
        if mode == 1 and (t == team or (teams[t, TC.LEVEL] == TL.DISTRICT and not teams[t, TC.BACKUP])):
            continue  # a district team that does not back up townships is nobody's helper
        if mode == 2 and not teams[t, TC.BACKUP]:
            continue
        first = n
        for c in range(teams[t, TC.CREW0], teams[t, TC.CREW0] + teams[t, TC.NCREW]):
            if crew_i[c, CI.STATE] == CS.IDLE:
                # insertion by free-list sequence
                i = n
                while i > first and crew_i[buf[i - 1], CI.SEQ] > crew_i[c, CI.SEQ]:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = c
                n += 1
    return n


@njit(cache=True, nogil=True)
def _best(st, nc, r, turnout, band, now, limit):
    """Fastest of the ``nc`` candidates in ``st.buf`` to node ``r`` under ``limit`` seconds:
    ``(crew, eta)`` or ``(-1, limit)``. Crews at base first (matrix lookup plus turnout), then crews
    on the road: exact, by labels, from the next node on their way back, unless the bases as
    landmarks show it cannot win."""
    crew_i, crew_f, cands = st.crew_i, st.crew_f, st.buf
    from_base, to_base, lptr = st.from_base, st.to_base, st.label_ptr
    best, best_eta = -1, limit
    for i in range(nc):
        c = cands[i]
        if crew_f[c, CF.RET_END] <= now:
            eta = turnout + from_base[band, r, crew_i[c, CI.BASE]]
            if eta < best_eta:
                best, best_eta = c, eta
    for i in range(nc):
        c = cands[i]
        if crew_f[c, CF.RET_END] <= now:
            continue
        route = st.route[crew_i[c, CI.RET_BAND], crew_i[c, CI.BASE]]
        remaining = route[crew_i[c, CI.NODE], 0] - (now - crew_f[c, CF.RET_START]) * 60.0
        # follow next hops from where the last question left it to the first node whose time to
        # base is within what is left: the crew's next node (the walk only ever moves forward)
        cur = crew_i[c, CI.RET_CUR]
        while route[cur, 0] > remaining and route[cur, 1] >= 0:
            cur = int(route[cur, 1])
        crew_i[c, CI.RET_CUR] = cur
        off = max(0.0, remaining - route[cur, 0])
        # lower bound on d(cur -> r) from the times to and from every base (triangle inequality);
        # a margin keeps rounding from dropping a crew that would win
        lb = _alt_bound(from_base[band, r], from_base[band, cur], to_base[band, cur], to_base[band, r])
        if off + lb * (1 - 1e-12) - 1e-9 >= best_eta:
            continue
        st.meta[M.LOOKUPS] += 1
        eta = off + label_distance(lptr[1, band], lptr[0, band], st.label_hub, st.label_s, cur, r)
        if eta < best_eta:
            best, best_eta = c, eta
    return best, best_eta


@njit(cache=True, nogil=True)
def _assign(st, crew, rid, eta, now):
    """Send ``crew`` to report ``rid``; returns the SimPy wait until it clears the scene (min)."""
    crew_i, crew_f, rep_i, rep_f = st.crew_i, st.crew_f, st.rep_i, st.rep_f
    if crew_i[crew, CI.RET_BAND] >= 0:  # an interrupted (or finished) return trip counts as committed
        book_return(crew, now, crew_f)
        crew_i[crew, CI.RET_BAND] = -1
    crew_i[crew, CI.STATE] = CS.BUSY
    crew_f[crew, CF.BUSY_START] = now
    crew_i[crew, CI.JOB] = rid
    crew_i[crew, CI.JOBS] += 1
    turnout = rep_f[rid, RF.TURNOUT_S] if crew_f[crew, CF.RET_END] <= now else 0.0
    arrive_at = now + eta / 60.0
    rep_f[rid, RF.DISPATCHED] = now
    rep_f[rid, RF.ARRIVE_AT] = arrive_at
    rep_f[rid, RF.TRAVEL] = (eta - turnout) / 60.0
    rep_i[rid, RI.TEAM] = crew_i[crew, CI.TEAM]
    rep_i[rid, RI.CREW] = crew
    crew_f[crew, CF.RET_END] = np.inf
    return arrive_at - now + rep_f[rid, RF.WORK]


@njit(cache=True, nogil=True)
def dispatch(st, rid, now):
    """A report reaches the dispatcher: choose a crew by the policy or queue the report.
    Returns ``(crew, wait in minutes until it clears)``, or ``(-1, 0)`` when queued."""
    if st.meta[M.JOINT] and st.cat_jlen[st.rep_i[rid, RI.CAT]] > 0:
        _dispatch_joint(st, rid, now)
        return -2, 0.0
    band = _band(st.band_table, now)
    r = st.rep_i[rid, RI.NODE]
    home = st.rep_i[rid, RI.HOME]
    turnout = st.rep_f[rid, RF.TURNOUT_S]
    policy = st.meta[M.POLICY]
    teams, crew_i, buf = st.teams, st.crew_i, st.buf
    if teams[home, TC.LEVEL] == TL.DISTRICT:  # a referred matter: only the district team that owns it
        crew, eta = _best(st, _free_crews(teams, crew_i, 0, home, buf), r, turnout, band, now, np.inf)
    elif policy == PC.NEAREST:  # nearest
        crew, eta = _best(st, _free_crews(teams, crew_i, 1, -1, buf), r, turnout, band, now, np.inf)
    else:
        crew, eta = _best(st, _free_crews(teams, crew_i, 0, home, buf), r, turnout, band, now, np.inf)
        if policy == PC.HOME_TEAM:
            if crew < 0:
                nc = _free_crews(teams, crew_i, 2, -1, buf)
                if nc:
                    crew, eta = _best(st, nc, r, turnout, band, now, np.inf)
        elif not (crew >= 0 and eta <= st.params[0]):
            max_aid = st.params[1]
            nc = _free_crews(teams, crew_i, 1, home, buf)
            aid, aid_eta = _best(st, nc, r, turnout, band, now, min(eta, max_aid + 1e-9))
            if aid >= 0 and aid_eta < eta and aid_eta <= max_aid:
                crew, eta = aid, aid_eta
    if crew < 0 and st.meta[M.RECALL] and st.rep_i[rid, RI.PRIO] <= st.meta[M.RECALL_PRIO]:
        crew = _recall(st, rid, home, r, band, now)
        if crew >= 0:
            return crew, st.rep_f[rid, RF.ARRIVE_AT] - now + st.rep_f[rid, RF.WORK]
    if crew < 0:
        st.rep_i[rid, RI.QUEUED] = 1
        _enqueue(teams, st.queue, home, rid, st.rep_i, st.rep_f)
        return -1, 0.0
    return crew, _assign(st, crew, rid, eta, now)


@njit(cache=True, nogil=True)
def _recall(st, rid, team, r, band, now):
    """Planned inspections: the team's crew on an inspection that reaches ``rid`` first (recall delay
    plus the drive from its base) is sent and goes back to the inspection after the job; -1 if none.
    The twin of ``ReadableDispatcher._recallable`` and ``_recall``."""
    crew_i, crew_f, rep_f = st.crew_i, st.crew_f, st.rep_f
    recall_s = st.params[2]
    best, best_eta = -1, np.inf
    for c in range(st.teams[team, TC.CREW0], st.teams[team, TC.CREW0] + st.teams[team, TC.NCREW]):
        if crew_i[c, CI.STATE] == CS.PLANNED:
            eta = recall_s + st.from_base[band, r, crew_i[c, CI.BASE]]
            if eta < best_eta:
                best, best_eta = c, eta
    if best < 0:
        return -1
    end_plan(best, now, crew_f)
    crew_f[best, CF.DUTY_SINCE] = now
    crew_i[best, CI.PLAN_AFTER] = 1
    crew_i[best, CI.STATE] = CS.BUSY
    crew_f[best, CF.BUSY_START] = now
    crew_i[best, CI.JOB] = rid
    crew_i[best, CI.JOBS] += 1
    st.meta[M.RECALLS] += 1
    rep_f[rid, RF.DISPATCHED] = now
    rep_f[rid, RF.ARRIVE_AT] = now + best_eta / 60.0
    rep_f[rid, RF.TRAVEL] = (best_eta - recall_s) / 60.0
    st.rep_i[rid, RI.TEAM] = crew_i[best, CI.TEAM]
    st.rep_i[rid, RI.CREW] = best
    crew_f[best, CF.RET_END] = np.inf
    return best


@njit(cache=True, nogil=True)
def end_plan(crew, now, crew_f):
    """Count the crew's time on the planned inspection up to ``now``."""
    since = crew_f[crew, CF.PLAN_SINCE]
    if not np.isnan(since):
        crew_f[crew, CF.PLAN_TOTAL] += now - since
        crew_f[crew, CF.PLAN_SINCE] = np.nan


@njit(cache=True, nogil=True)
def _start_plan(st, crew, now):
    st.crew_i[crew, CI.STATE] = CS.PLANNED
    st.crew_f[crew, CF.PLAN_SINCE] = now
    st.crew_i[crew, CI.RET_BAND] = -1
    st.crew_f[crew, CF.RET_END] = now  # out of reactive service; it comes back at its base


@njit(cache=True, nogil=True)
def _start_return(st, crew, now):
    crew_i, crew_f = st.crew_i, st.crew_f
    band = _band(st.band_table, now)
    tt = st.route[band, crew_i[crew, CI.BASE], crew_i[crew, CI.NODE], 0]
    if tt == np.inf:  # cut off by a closure: it stays until the first band with a way back
        table = st.band_table
        n = table.shape[0]
        k0 = int(now // BAND_RES_MIN)
        seen = np.zeros(256, dtype=np.bool_)
        for k in range(k0, k0 + n):
            b = table[k % n]
            if seen[b]:
                continue
            seen[b] = True
            d = st.route[b, crew_i[crew, CI.BASE], crew_i[crew, CI.NODE], 0]
            if d < np.inf:
                now, band, tt = max(now, k * BAND_RES_MIN * 1.0), b, d
                break
    crew_f[crew, CF.RET_START] = now
    crew_f[crew, CF.RET_END] = now + tt / 60.0
    crew_i[crew, CI.RET_BAND] = band if tt > 0 else -1
    crew_i[crew, CI.RET_CUR] = crew_i[crew, CI.NODE]


@njit(cache=True, nogil=True)
def book_return(crew, now, crew_f):
    """Count the on-duty part of the crew's last return drive, up to ``now``, as committed time."""
    since = crew_f[crew, CF.DUTY_SINCE]
    if not np.isnan(since):
        crew_f[crew, CF.RET_TOTAL] += max(0.0, min(now, crew_f[crew, CF.RET_END])
                                          - max(crew_f[crew, CF.RET_START], since))


@njit(cache=True, nogil=True)
def _end_duty(crew, now, crew_i, crew_f):
    if crew_i[crew, CI.RET_BAND] >= 0:
        book_return(crew, now, crew_f)
    if not np.isnan(crew_f[crew, CF.DUTY_SINCE]):
        crew_f[crew, CF.DUTY_MIN] += now - crew_f[crew, CF.DUTY_SINCE]
        crew_f[crew, CF.DUTY_SINCE] = np.nan


@njit(cache=True, nogil=True)
def _make_free(st, crew):
    st.crew_i[crew, CI.STATE] = CS.IDLE
    st.crew_i[crew, CI.SEQ] = st.meta[M.SEQ]
    st.meta[M.SEQ] += 1


@njit(cache=True, nogil=True)
def clear(st, crew, now):
    """``crew`` finished on scene: book the job, then take the next waiting report from here or head
    back to base. Returns the wait in minutes until the next job clears, or -1 when none."""
    crew_i, crew_f, rep_i, rep_f = st.crew_i, st.crew_f, st.rep_i, st.rep_f
    rid = crew_i[crew, CI.JOB]
    rep_f[rid, RF.ARRIVED] = rep_f[rid, RF.ARRIVE_AT]
    rep_f[rid, RF.CLEARED] = now
    crew_i[crew, CI.NODE] = rep_i[rid, RI.NODE]
    crew_i[crew, CI.JOB] = -1
    if crew_i[crew, CI.PLAN_AFTER] and not crew_i[crew, CI.OFF_AFTER]:  # back to the planned inspection
        crew_f[crew, CF.BUSY_TOTAL] += now - crew_f[crew, CF.BUSY_START]
        crew_i[crew, CI.PLAN_AFTER] = 0
        _end_duty(crew, now, crew_i, crew_f)
        _start_plan(st, crew, now)
        return -1.0
    if not crew_i[crew, CI.OFF_AFTER]:
        nxt = _next_job(st, crew, crew_i[crew, CI.NODE], -1, now)
        if nxt >= 0:
            band = _band(st.band_table, now)
            st.meta[M.LOOKUPS] += 1
            lptr = st.label_ptr
            tt = label_distance(lptr[1, band], lptr[0, band], st.label_hub, st.label_s, crew_i[crew, CI.NODE],
                                rep_i[nxt, RI.NODE])
            if st.jstate[nxt, JI.STATE] == 1:  # a joint check its team owes a crew to
                return _join(st, crew, nxt, tt, now)
            arrive_at = now + tt / 60.0
            rep_f[nxt, RF.DISPATCHED] = now
            rep_f[nxt, RF.ARRIVE_AT] = arrive_at
            rep_f[nxt, RF.TRAVEL] = tt / 60.0
            rep_i[nxt, RI.TEAM] = crew_i[crew, CI.TEAM]
            rep_i[nxt, RI.CREW] = crew
            crew_i[crew, CI.JOB] = nxt
            crew_i[crew, CI.JOBS] += 1
            return arrive_at - now + rep_f[nxt, RF.WORK]
    crew_f[crew, CF.BUSY_TOTAL] += now - crew_f[crew, CF.BUSY_START]
    _start_return(st, crew, now)
    if crew_i[crew, CI.OFF_AFTER]:
        crew_i[crew, CI.OFF_AFTER] = 0
        crew_i[crew, CI.STATE] = CS.OFF
        _end_duty(crew, now, crew_i, crew_f)
    else:
        _make_free(st, crew)
    return -1.0


@njit(cache=True, nogil=True)
def _pull_from_base(st, crew, now, k):
    """A crew at its base takes the next waiting report it can reach: it is recorded as the ``k``-th
    crew sent out (``st.woken``/``st.waits``). Returns 1 if it was sent, else 0."""
    rid = _next_job(st, crew, -1, st.crew_i[crew, CI.BASE], now)
    if rid < 0:
        return 0
    base_s = st.from_base[_band(st.band_table, now), st.rep_i[rid, RI.NODE], st.crew_i[crew, CI.BASE]]
    if st.jstate[rid, JI.STATE] == 1:  # a joint check: held (0) unless this crew completes it
        wait = _join(st, crew, rid, st.rep_f[rid, RF.TURNOUT_S] + base_s, now)
        if wait < 0:
            return 0
        st.woken[k] = crew
        st.waits[k] = wait
        return 1
    st.woken[k] = crew
    st.waits[k] = _assign(st, crew, rid, st.rep_f[rid, RF.TURNOUT_S] + base_s, now)
    return 1


@njit(cache=True, nogil=True)
def shift_change(st, team, count, now):
    """The first ``count`` crews of ``team`` on duty, the rest off (busy crews finish their job
    first). A crew coming on duty takes a waiting report at once: ``st.woken``/``st.waits`` get the
    crews sent out; returns how many."""
    teams = st.teams
    n_woken = 0
    for crew in range(teams[team, TC.CREW0], teams[team, TC.CREW0] + teams[team, TC.NCREW]):
        n_woken += _set_duty(st, crew, st.crew_i[crew, CI.K] < count, now, n_woken)
    return n_woken


@njit(cache=True, nogil=True)
def _set_duty(st, crew, should, now, n_woken):
    """One crew on duty (``should``) or off at a shift change: an off crew comes on and takes a
    waiting report (recorded as the ``n_woken``-th crew sent out; returns 1 if sent); a busy crew
    going off finishes its job first. The transitions of ``ReadableDispatcher.shift_change``."""
    crew_i, crew_f = st.crew_i, st.crew_f
    state = crew_i[crew, CI.STATE]
    if should and state == CS.OFF and not crew_i[crew, CI.OFF_AFTER]:
        _make_free(st, crew)
        crew_f[crew, CF.DUTY_SINCE] = now
        return _pull_from_base(st, crew, now, n_woken)
    if should and crew_i[crew, CI.OFF_AFTER]:
        crew_i[crew, CI.OFF_AFTER] = 0
    elif not should and state == CS.IDLE:
        crew_i[crew, CI.STATE] = CS.OFF
        _end_duty(crew, now, crew_i, crew_f)
    elif not should and state == CS.BUSY:
        crew_i[crew, CI.OFF_AFTER] = 1
    return 0


@njit(cache=True, nogil=True)
def plan_change(st, team, count, planned, now):
    """Planned inspections: the first ``count`` crews of ``team`` in reactive service, the next
    ``planned`` on the inspection (a crew on a job goes when it clears), the rest off duty. The twin of
    ``ReadableDispatcher.plan_change``; ``st.woken``/``st.waits`` get the crews sent out."""
    teams, crew_i, crew_f = st.teams, st.crew_i, st.crew_f
    n_woken = 0
    for crew in range(teams[team, TC.CREW0], teams[team, TC.CREW0] + teams[team, TC.NCREW]):
        k = crew_i[crew, CI.K]
        should = k < count
        state = crew_i[crew, CI.STATE]
        if not should and k < count + planned:  # on the inspection: now when free or off, after its job when busy
            if state == CS.BUSY:
                crew_i[crew, CI.PLAN_AFTER] = 1
                crew_i[crew, CI.OFF_AFTER] = 0
            elif state != CS.PLANNED:
                if state == CS.IDLE:
                    _end_duty(crew, now, crew_i, crew_f)
                crew_i[crew, CI.OFF_AFTER] = 0
                _start_plan(st, crew, now)
            continue
        if should and state == CS.PLANNED:  # the inspection is over: back in service, at its base
            end_plan(crew, now, crew_f)
            _make_free(st, crew)
            crew_f[crew, CF.RET_END] = min(crew_f[crew, CF.RET_END], now)
            crew_f[crew, CF.DUTY_SINCE] = now
            n_woken += _pull_from_base(st, crew, now, n_woken)
            continue
        if not should and state == CS.PLANNED:
            end_plan(crew, now, crew_f)
            crew_i[crew, CI.STATE] = CS.OFF
            continue
        if state == CS.BUSY:
            crew_i[crew, CI.PLAN_AFTER] = 0
        n_woken += _set_duty(st, crew, should, now, n_woken)
    return n_woken


@njit(cache=True, nogil=True)
def retry_idle(st, now):
    """A closure has ended: every idle crew at base, team by team, takes a waiting report it can now
    reach (the twin of :meth:`dispatch_sim.sim.readable.ReadableDispatcher.retry_idle`); ``st.woken``/``st.waits``
    get the crews sent out; returns how many."""
    crew_i, crew_f = st.crew_i, st.crew_f
    n_woken = 0
    for crew in range(crew_i.shape[0]):
        if crew_i[crew, CI.STATE] != CS.IDLE or crew_f[crew, CF.RET_END] > now:
            continue
        n_woken += _pull_from_base(st, crew, now, n_woken)
    return n_woken
