"""Duration laws: one small class per ``dist`` of a scenario's :class:`~dispatch_sim.scenario.Distribution`.

A scenario writes a duration (dispatch delay, turnout, on-scene work) as ``{dist: lognormal,
mean_min: 45, sd_min: 25}``; :func:`law` turns it into an object with ``sample(rng, size)`` and
``mean()``. Lognormal and gamma laws are given by mean and standard deviation, the figures a planner
knows, and converted here to the parameters numpy draws with.

A new law: a class with ``sample`` and ``mean``, one entry in :data:`LAWS`, and its name in the
``dist`` literal of ``scenario.Distribution`` (whose validator lists the fields it needs). Each law
draws with exactly one numpy call, so the random streams of existing scenarios never shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np


class Law(Protocol):
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...

    def mean(self) -> float: ...


@dataclass(frozen=True)
class Fixed:
    value: float

    def sample(self, rng, size):
        return np.full(size, float(self.value))

    def mean(self):
        return float(self.value)


@dataclass(frozen=True)
class Exponential:
    mean_min: float

    def sample(self, rng, size):
        return rng.exponential(self.mean_min, size)

    def mean(self):
        return self.mean_min


@dataclass(frozen=True)
class LogNormal:
    """Given by mean ``m`` and standard deviation ``s`` of the duration itself: the underlying normal
    has variance ``log(1 + (s/m)²)`` and mean ``log(m) - variance/2``."""

    mean_min: float
    sd_min: float

    def sample(self, rng, size):
        sigma2 = math.log(1 + (self.sd_min / self.mean_min) ** 2)
        return rng.lognormal(math.log(self.mean_min) - sigma2 / 2, math.sqrt(sigma2), size)

    def mean(self):
        return self.mean_min


@dataclass(frozen=True)
class Gamma:
    """Given by mean ``m`` and standard deviation ``s``: shape ``(m/s)²``, scale ``s²/m``."""

    mean_min: float
    sd_min: float

    def sample(self, rng, size):
        m, s = self.mean_min, self.sd_min
        return rng.gamma((m / s) ** 2, s * s / m, size)

    def mean(self):
        return self.mean_min


@dataclass(frozen=True)
class Uniform:
    low_min: float
    high_min: float

    def sample(self, rng, size):
        return rng.uniform(self.low_min, self.high_min, size)

    def mean(self):
        return (self.low_min + self.high_min) / 2


@dataclass(frozen=True)
class Empirical:
    """Observed values, drawn with equal weight."""

    values_min: tuple[float, ...]

    def sample(self, rng, size):
        return rng.choice(np.asarray(self.values_min, dtype=float), size)

    def mean(self):
        return sum(self.values_min) / len(self.values_min)


#: ``dist`` name → the law built from a scenario ``Distribution``.
LAWS: dict[str, Callable[..., Law]] = {
    "fixed": lambda d: Fixed(d.value_min),
    "exponential": lambda d: Exponential(d.mean_min),
    "lognormal": lambda d: LogNormal(d.mean_min, d.sd_min),
    "gamma": lambda d: Gamma(d.mean_min, d.sd_min),
    "uniform": lambda d: Uniform(d.low_min, d.high_min),
    "empirical": lambda d: Empirical(tuple(d.values_min)),
}


def law(dist) -> Law:
    """The law of a scenario :class:`~dispatch_sim.scenario.Distribution`."""
    return LAWS[dist.dist](dist)


def sample_durations(dist, rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw ``size`` durations (minutes) from a scenario distribution (no draw at all for size 0)."""
    if size == 0:
        return np.zeros(0)
    return law(dist).sample(rng, size)
