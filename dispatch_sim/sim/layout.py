"""The state both dispatchers share, declared once: crew states, policy and queue codes, and the
column layout of the state arrays.

The compiled dispatcher keeps all of its state in these arrays; the readable one keeps crews and
teams as objects but writes every outcome (a report's dispatch, arrival, clearing; a crew's busy,
return and on-duty minutes) into the same report and crew arrays, so one function
(:func:`dispatch_sim.sim.engine.run_replication`) turns either into a
:class:`~dispatch_sim.sim.engine.ReplicationResult`.

The enums are :class:`enum.IntEnum`: numba reads their members as integer constants, so the kernels
index ``crew_i[c, CrewI.STATE]`` with no copy of the numbers anywhere. Adding a column is one line
here; adding a crew state is one member of :class:`CrewState` plus its handling in both dispatchers
(``docs/extending.md``).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from ..speeds import BAND_RES_MIN  # noqa: F401  (the band grid the kernels read, declared with the bands)


class CrewState(IntEnum):
    """Where a crew is in its cycle. A returning crew is IDLE (it can be sent on from the road)."""

    IDLE = 0
    BUSY = 1  # dispatched: driving to a report or on scene
    OFF = 2  # off duty
    PLANNED = 3  # on a planned inspection (campaign): out of reactive service, recallable if the scenario says


class PolicyCode(IntEnum):
    """The built-in dispatch policies, by the name a scenario gives (``dispatch.policy``)."""

    HOME_TEAM = 0
    NEAREST = 1
    HOME_THEN_MUTUAL_AID = 2

    @classmethod
    def of(cls, name: str) -> "PolicyCode":
        return cls[name.upper()]

    @classmethod
    def names(cls) -> list[str]:
        return [m.name.lower() for m in cls]


class QueueCode(IntEnum):
    """``dispatch.queue``: own team's waiting reports first, or one first-come queue for all."""

    OWN_FIRST = 0
    FIFO = 1

    @classmethod
    def of(cls, name: str) -> "QueueCode":
        return cls[name.upper()]


class CrewI(IntEnum):
    """Integer columns of a crew: base, team, node, return band and cursor, state, free-list
    sequence, current job, off after this job, jobs done, index within its team."""

    BASE = 0
    TEAM = 1
    NODE = 2
    RET_BAND = 3
    RET_CUR = 4
    STATE = 5
    SEQ = 6
    JOB = 7
    OFF_AFTER = 8
    JOBS = 9
    K = 10
    PLAN_AFTER = 11  # 1: go on the planned inspection under way when this job clears


class CrewF(IntEnum):
    """Float columns of a crew (minutes): return trip start and end, busy since and in total, on duty
    since and in total, on-duty return drives in total, on a planned inspection since and in total;
    its arrival at and drive to the joint check it is on. The four totals are outputs."""

    RET_START = 0
    RET_END = 1
    BUSY_START = 2
    BUSY_TOTAL = 3
    DUTY_SINCE = 4
    DUTY_MIN = 5
    RET_TOTAL = 6
    PLAN_SINCE = 7
    PLAN_TOTAL = 8
    J_ARRIVE = 9  # joint checks: when this crew reaches the check it is on
    J_TRAVEL = 10  # and its drive (minutes)


class TeamCol(IntEnum):
    """Columns of a team: its queue's start and length in the shared queue array, backup (district
    squad) flag, first crew, number of crews, and level (:class:`TeamLevel`)."""

    QSTART = 0
    QLEN = 1
    BACKUP = 2
    CREW0 = 3
    NCREW = 4
    LEVEL = 5


class TeamLevel(IntEnum):
    """``teams[].level``: a team with an area (township, scenic area) or a district team ("1+6")."""

    TOWNSHIP = 0
    DISTRICT = 1


class RepI(IntEnum):
    """Integer columns of a report: inputs (node, serving team: the home team or, for a referred
    matter, the district team that owns it; priority), outputs (team, crew, queued)."""

    NODE = 0
    HOME = 1
    PRIO = 2
    TEAM = 3
    CREW = 4
    QUEUED = 5
    CAT = 6  # input: category (joint checks look up the crews it needs)


class RepF(IntEnum):
    """Float columns of a report: inputs (ready, turnout s, work min), outputs (dispatched, arrival
    as planned, travel, arrived, cleared; minutes)."""

    READY = 0
    TURNOUT_S = 1
    WORK = 2
    DISPATCHED = 3
    ARRIVE_AT = 4
    TRAVEL = 5
    ARRIVED = 6
    CLEARED = 7


class Meta(IntEnum):
    """Run-wide integers: next free-list sequence number, label lookups, policy, queue, closures; recall
    of planned crews (on/off, least urgent priority that recalls, recalls made); joint checks (on/off,
    crews to wake, crew rows written)."""

    SEQ = 0
    LOOKUPS = 1
    POLICY = 2
    QUEUE = 3
    CLOSED = 4
    RECALL = 5
    RECALL_PRIO = 6
    RECALLS = 7
    JOINT = 8  # the scenario has joint checks
    NJW = 9  # crews of completed joint checks waiting to be woken (``jwoken``/``jwaits``)
    JROWS = 10  # rows written to ``jrows`` (one per crew sent to a joint check)


def report_arrays(reports) -> tuple[np.ndarray, np.ndarray]:
    """The report arrays of one replication: inputs filled from ``reports``, outputs empty (-1, NaN,
    not queued)."""
    n = len(reports)
    rep_i = np.full((n, len(RepI)), -1, dtype=np.int64)
    rep_i[:, [RepI.NODE, RepI.HOME, RepI.PRIO]] = np.stack([reports.node, reports.serving_team, reports.priority], 1)
    rep_i[:, RepI.QUEUED] = 0
    rep_i[:, RepI.CAT] = reports.category
    rep_f = np.full((n, len(RepF)), np.nan)
    rep_f[:, [RepF.READY, RepF.TURNOUT_S, RepF.WORK]] = np.stack(
        [reports.ready_min, reports.turnout_min * 60.0, reports.work_min], 1)
    return rep_i, rep_f


def crew_float_array(n_crews: int) -> np.ndarray:
    """Crew float columns, zero, with nobody on duty yet."""
    crew_f = np.zeros((n_crews, len(CrewF)))
    crew_f[:, CrewF.DUTY_SINCE] = np.nan
    crew_f[:, CrewF.PLAN_SINCE] = np.nan
    return crew_f


class JointI(IntEnum):
    """Integer columns of a report's joint-check state (compiled dispatcher): distinct teams it needs,
    state (0 not a joint check yet, 1 crews owed, 2 complete), whether it waits in queues, crews joined."""

    N = 0
    STATE = 1
    QUEUED = 2
    JOINED = 3


def joint_tables(scenario, reports) -> tuple:
    """The compiled dispatcher's joint-check arrays: per category the teams (-1: the report's own team)
    and crews it needs, ``(cat_team, cat_num, cat_len)``; per report its owed teams and counts, state
    (:class:`JointI`) and crews joined; the crew-row buffer; the capacity each team's queue needs
    (a joint check may wait in every team it owes, a report in its serving team's)."""
    cats = scenario.demand.categories
    names = {t.name: i for i, t in enumerate(scenario.teams)}
    maxj = max([len(c.joint) for c in cats] + [1])
    maxn = max([sum(c.joint.values()) for c in cats] + [1])
    cat_team = np.full((len(cats), maxj), -2, dtype=np.int64)
    cat_num = np.zeros((len(cats), maxj), dtype=np.int64)
    cat_len = np.zeros(len(cats), dtype=np.int64)
    for ci, c in enumerate(cats):
        for j, (k, n) in enumerate(c.joint.items()):
            cat_team[ci, j] = -1 if k == "home" else names[k]
            cat_num[ci, j] = n
        cat_len[ci] = len(c.joint)
    n = len(reports)
    nteams = len(scenario.teams)
    serving = reports.serving_team.astype(np.int64)
    cap = np.bincount(serving, minlength=nteams)[:nteams].astype(np.int64)
    joint = cat_len[reports.category.astype(np.int64)] > 0 if n else np.zeros(0, dtype=bool)
    rows = 0
    if joint.any():
        cap -= np.bincount(serving[joint], minlength=nteams)[:nteams]
        for ci in np.unique(reports.category[joint]):
            sel = joint & (reports.category == ci)
            for rid in np.flatnonzero(sel):
                owed = {int(serving[rid]) if t == -1 else int(t) for t in cat_team[ci, :cat_len[ci]]}
                for t in owed:
                    cap[t] += 1
            rows += int(sel.sum()) * int(cat_num[ci].sum())
    m = max(n, 1)
    return (cat_team, cat_num, cat_len, np.zeros((m, maxj), dtype=np.int64), np.zeros((m, maxj), dtype=np.int64),
            np.zeros((m, len(JointI)), dtype=np.int64), np.full((m, maxn), -1, dtype=np.int64),
            np.zeros((max(rows, 1), 5)), cap)
