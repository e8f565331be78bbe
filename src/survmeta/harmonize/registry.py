"""Every harmonization method declared once: name, precedence, formula, sources, report text.

A method is a function ``Comparison -> Derivation`` registered with :func:`method`,
in the module of its reporting form; the declaration carries everything the rest of
the package says about it (the precedence of methods.md §1's table, the formula the
audit trail prints, its citations, the sentences of the report), so precedence, the
audit trail and the report's methods text are each one loop over :func:`methods`.

The registered object wraps the function with the rules every method obeys
(methods.md §1):

* **No method failing for one comparison can stop the others.** Any arithmetic
  failure inside a method (ZeroDivisionError, OverflowError, ValueError and math
  domain errors) and any result that is not a finite yi with a finite vi > 0 becomes
  :class:`~.base.Failed` ("not estimable: why") for that method only; the runner
  records it in the audit trail and tries the next method.
* **No derivation claims more than the data hold.** A method declared with
  ``floor="flag"`` never returns a vi below the information bound of its arms
  (:func:`~.information.information_bound`): a smaller vi is raised to the bound and
  the row flagged; ``floor="decline"`` declines instead so the next method is tried.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .base import Derivation, Failed
from .comparisons import Comparison
from .information import information_bound


@dataclass(frozen=True)
class Source:
    """A paper a method comes from: the key the report cites it by, and the full reference."""

    key: str
    citation: str


@dataclass(frozen=True)
class Caveat:
    """A warning the report's methods section prints once for all methods that carry it."""

    text: str


@dataclass(frozen=True)
class Method:
    """One harmonization method and everything said about it (methods.md §1's table row).

    ``precedence``: lower wins when several methods can derive a comparison.
    ``needs``: what the method needs, as methods.md's table says it. ``formula`` (and
    ``formula_mr`` for the log ratio of medians, ``formula_rmst`` for the RMST difference):
    printed in the audit trail. ``label``:
    what the report calls the method. ``caveat``: the sentence the audit trail prints
    beside every comparison the method derived. ``caveats``: the warnings of the
    report's methods section that apply to it. ``hazard_based``: the method does not
    assume exponential survival (HR, log-rank or curve-based), for the sensitivity row
    that pools only those. ``median``: usable for ``metric: log_mr``. ``secondary``:
    shown beside the winner, never chosen. ``splits``: under ``multiarm: split`` the method
    divides a shared arm's counts (its vi carries the split), so its information bound
    and its events do too. ``floor``: ``"flag"``, ``"decline"`` or None (module docstring).
    ``reads``: the input tables the numbers come from, for the audit trail's sources.
    """

    name: str
    precedence: int
    derive: Callable[[Comparison], Derivation] = field(repr=False)
    label: str
    needs: str
    formula: str
    sources: tuple[Source, ...]
    caveat: str = ""
    formula_mr: str = ""
    formula_rmst: str = ""
    caveats: tuple[Caveat, ...] = ()
    hazard_based: bool = False
    median: bool = False
    secondary: bool = False
    splits: bool = False
    floor: str | None = None
    reads: tuple[str, ...] = ("arms",)

    @property
    def refs(self) -> tuple[str, ...]:
        """The citation keys, in the order the method lists its sources."""
        return tuple(s.key for s in self.sources)

    def __call__(self, comp: Comparison) -> Derivation:
        """The method's derivation, guarded: finite yi, finite vi > 0, floored, or Failed."""
        try:
            d = self.derive(comp)
        except (ArithmeticError, ValueError) as err:
            raise Failed(f"arithmetic failure ({type(err).__name__}: {err})") from None
        values = [d.yi, d.vi] + ([d.log_mr] if d.log_mr is not None else [])
        if not all(math.isfinite(x) for x in values) or d.vi < 0:
            raise Failed(f"no finite estimate with a variance (yi {d.yi:g}, vi {d.vi:g})")
        if self.floor is not None:
            d = _floor(comp, d, self.floor, self.splits)
        if d.vi <= 0:
            raise Failed(f"a variance of {d.vi:g} claims infinite precision")
        return d


def _floor(comp: Comparison, d: Derivation, how: str, split: bool) -> Derivation:
    """methods.md §1 "No derivation claims more than the data hold": vi >= the arms' bound."""
    bound = information_bound(comp, split)
    if bound is None or d.vi >= bound.value:
        return d
    text = f"vi {d.vi:.4g} below the information bound {bound.formula} = {bound.value:.4g}"
    if how == "decline":
        raise Failed(text)
    d.vi = bound.value
    d.flags.append(f"{text}: floored there")
    d.assumptions.extend(bound.assumptions)
    d.events = tuple(e if e is not None else o for e, o in zip(bound.events, d.events, strict=True))
    return d


#: Sources and caveats that several method modules cite.
PARMAR_1998 = Source(
    "parmar1998",
    "Parmar MKB, Torri V, Stewart L. Extracting summary statistics to perform meta-analyses of "
    "the published literature for survival endpoints. Stat Med 1998;17:2815-34.",
)
TIERNEY_2007 = Source(
    "tierney2007",
    "Tierney JF, Stewart LA, Ghersi D, Burdett S, Sydes MR. Practical methods for incorporating "
    "summary time-to-event data into meta-analysis. Trials 2007;8:16.",
)
P_BOUND = Caveat(
    "A p-value printed as a bound ('p < 0.05') is used conservatively for hr_p; for p_events "
    "and median_p it pulls the estimate toward no effect, and such rows are flagged."
)
P_FLOOR = Caveat(
    "A variance built from a p-value (hr_p, p_events, median_p) is never smaller than the "
    "information its arms hold (1/E_T + 1/E_C with events reported or estimated, else "
    "1/n_T + 1/n_C): where the p claimed more, the variance was raised to that bound and the "
    "row flagged (docs/methods.md)."
)


#: name -> Method, filled as the method modules are imported (see ``survmeta.harmonize``).
REGISTRY: dict[str, Method] = {}


def method(**declaration) -> Callable[[Callable[[Comparison], Derivation]], Method]:
    """Register the decorated function as a method; the function's name is the method's."""

    def register(fn: Callable[[Comparison], Derivation]) -> Method:
        m = Method(name=fn.__name__, derive=fn, **declaration)
        clash = [o.name for o in REGISTRY.values() if o.precedence == m.precedence]
        if m.name in REGISTRY or clash:
            raise RuntimeError(f"harmonization method {m.name} registered twice ({clash})")
        if m.floor not in (None, "flag", "decline"):
            raise RuntimeError(f"{m.name}: floor must be 'flag', 'decline' or None")
        REGISTRY[m.name] = m
        return m

    return register


def methods(metric: str = "log_hr") -> tuple[Method, ...]:
    """The methods in precedence order; for ``log_mr`` only those that estimate a median ratio."""
    ms = sorted(REGISTRY.values(), key=lambda m: m.precedence)
    return tuple(m for m in ms if m.median or metric != "log_mr")


def describe(name: str) -> Method:
    """The registered method, or a placeholder that says it is not documented here."""
    if str(name) in REGISTRY:
        return REGISTRY[str(name)]
    return Method(
        name=str(name),
        precedence=-1,
        derive=_undocumented,
        label=str(name),
        needs="",
        formula="see docs/methods.md",
        sources=(),
        caveat="method not documented here",
    )


def _undocumented(comp: Comparison) -> Derivation:
    raise Failed("not a registered method")


__all__ = ["Caveat", "Method", "REGISTRY", "Source", "describe", "method", "methods"]
