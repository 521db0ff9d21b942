"""The simulation: one SimPy engine and two dispatchers behind one narrow interface.

- :mod:`~dispatch_sim.sim.layout`: crew states, policy and queue codes, and the column layout of
  the state arrays, declared once for both dispatchers;
- :mod:`~dispatch_sim.sim.engine`: the SimPy processes (report source, crew cycle, shift manager,
  reopenings), the :class:`~dispatch_sim.sim.engine.Dispatcher` interface and
  :func:`~dispatch_sim.sim.engine.run_replication`;
- :mod:`~dispatch_sim.sim.readable`: the reference dispatcher (crews as objects, any policy);
- :mod:`~dispatch_sim.sim.compiled` and :mod:`~dispatch_sim.sim.kernels`: the same decisions for
  the built-in policies in numba, about three times faster.

:meth:`dispatch_sim.World.simulate` runs a replication on the dispatcher :func:`dispatcher_for`
picks. Why two and not one: the readable dispatcher costs about 30 bare SimPy timeouts per report,
the compiled one about 9 (``benchmarks/bench_sim.py`` runs both on the same year), and the target
is 10. How to add a policy or a crew state to both: ``docs/extending.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .layout import PolicyCode

if TYPE_CHECKING:
    from .engine import Dispatcher

#: Scenario features only the readable dispatcher implements: ``(test on the scenario, field)``.
READABLE_ONLY: tuple[tuple[Callable, str], ...] = (
    (lambda sc: bool(getattr(sc.dispatch, "move_up", False)), "dispatch.move_up"),
)


def readable_only_features(scenario) -> list[str]:
    """The scenario fields that keep a run on the readable dispatcher (see :data:`READABLE_ONLY`)."""
    return [name for test, name in READABLE_ONLY if test(scenario)]


def can_compile(world, policy_name: str | None = None) -> bool:
    """Whether a run can use the compiled dispatcher: one of the built-in policies (not a class
    registered in its place), a graph with hub labels, none of :data:`READABLE_ONLY`, and
    ``settings.compiled_dispatch`` on."""
    from .. import settings
    from ..policies import BUILT_IN, POLICIES

    name = policy_name or world.scenario.dispatch.policy
    return (settings.compiled_dispatch and name in PolicyCode.names()
            and POLICIES.get(name) is BUILT_IN.get(name) and world.router.has_labels
            and not readable_only_features(world.scenario))


def dispatcher_for(world) -> "type[Dispatcher]":
    """The dispatcher class a run of ``world`` uses: compiled when :func:`can_compile`, else readable."""
    if can_compile(world):
        from .compiled import CompiledDispatcher

        return CompiledDispatcher
    from .readable import ReadableDispatcher

    return ReadableDispatcher
