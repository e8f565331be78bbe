"""Individual patient data rebuilt from a digitized Kaplan-Meier curve (Guyot 2012), then Cox.

Source followed: Guyot P, Ades AE, Ouwens MJNM, Welton NJ. Enhanced secondary analysis
of survival data: reconstructing the data from published Kaplan-Meier survival curves.
BMC Med Res Methodol 2012;12:9, and the authors' R code from its supplementary material,
as reproduced verbatim in survHE's ``digitise()`` ("Adapted from Patricia Guyot (2012)")
and baggr's ``guyot.method()``. The steps below are that code, line for line, with
0-based indices; on 300 simulated digitizations (tests' scenario, several grids,
roundings and sizes, with and without total events) this module gives the same events,
censorings and IPD as that R code on all 291 where the R code finishes (on 9 it loops
for ever or stops on a NaN; see the guards below). IPDfromKM's ``getIPD()`` (Liu,
Zhou, Lee 2021) is a later variant and is *not* what is done here: it spreads an
interval's censoring only up to its last digitized point, in left-closed gaps; it stops
the censoring search at the drop in numbers at risk and always carries the rebuilt
number at risk forward; and its last interval takes the *mean* censoring count per
interval scaled by the last interval's length over the one before, capped by the
number at risk less the events still to come (reported total minus those rebuilt),
with no search on the total events.

The algorithm (per arm). Digitized points ``t[k], S[k]`` (``t[0] = 0, S[0] = 1``); numbers
at risk ``n_risk[i]`` at ``t_risk[i]`` (``t_risk[0] = 0``). Interval ``i`` holds the points
``lower[i] .. upper[i]``, ``lower[i]`` the first point at or after ``t_risk[i]`` and
``upper[i] = lower[i+1] - 1`` (the last interval runs to the last point).

1. For each interval but the last, a first guess of the number censored is
   ``round(n_risk[i] * S[lower[i+1]] / S[lower[i]] - n_risk[i+1])``. Then, while the
   rebuilt number at risk at ``lower[i+1]`` is above ``n_risk[i+1]``, or below it with a
   positive count: the censored are placed evenly, ``t[lower[i]] + j (t[lower[i+1]] -
   t[lower[i]]) / (c + 1)``, ``j = 1..c``, and counted per gap ``(t[k], t[k+1]]`` (R's
   ``hist``, right-closed, with its 1e-7 fuzz); events at each point are
   ``d[k] = round(n_hat[k] (1 - S[k] / KM_hat[last]))`` (``last`` = the last point with an
   event), ``KM_hat[k] = KM_hat[last] (1 - d[k] / n_hat[k])``, ``n_hat[k+1] = n_hat[k] -
   d[k] - cen[k]``; and the count is corrected by ``n_hat[lower[i+1]] - n_risk[i+1]``.
   When the loop ends below the published number, the rebuilt one replaces it.
   (As in the code, the loop also ends when the corrected count falls to 0 or below,
   keeping the censoring of that last pass.)
2. Last interval: without a reported total of events, the number censored is the
   censoring rate of the earlier intervals, ``round(sum(c_i) (t[upper[-1]] -
   t[lower[-1]]) / (t[upper[-2]] - t[0]))``, at most ``n_risk[-1]``; with only one interval,
   none. Events as in 1; the number at risk cannot fall below 0. With ``total_events``:
   if the earlier intervals already hold that many, the last interval gets no events and
   no censoring; otherwise its censoring count is corrected by the excess of events until
   the total matches (or no censoring is left).
3. IPD: ``d[k]`` events at ``t[k]``; ``cen[k]`` censored at ``(t[k] + t[k+1]) / 2``; everyone
   left is censored at the last digitized time.

Guards where R would stop, never end, or count below zero (they do not fire on
consistent input, and changed none of the 291 results compared above): a search for a
censoring count that revisits a count it tried (a cycle, possible through the
rounding), or a total-events search that cannot succeed (more censoring no longer
changes anything: no one is left after the last interval's first point), stops at the
count whose rebuilt number at risk (or total events) is closest to the target, and says
so; no events are counted where the rebuilt KM or the number at risk is 0, and never
fewer than 0; an interval whose first point has ``S = 0`` takes no first-guess
censoring; an interval whose rebuilt number at risk would end below 0 is rebuilt with
no censoring; a last interval with one point (or an interval of zero length) takes no
spread censoring (its patients end up censored at the last time anyway; R's ``hist``
would stop there).

Digitization conventions (``clean_curve``), each recorded in the notes: negative times
are set to 0; S is clipped to [0, 1] (a value above 1.5 is taken for a percentage and
refused); points are sorted by time, and by S descending within a time (the top of a
vertical drop first); points at time 0 are set to S = 1; S is made non-increasing by a
running minimum (as IPDfromKM's ``preprocess``); repeated identical points are dropped;
(0, 1) is added when there is no point at time 0. Numbers at risk (``clean_risk``) must be
whole, non-increasing and include time 0; at-risk times after the last digitized time
are dropped, as are those whose interval holds no digitized point (as survHE's
``digitise`` and IPDfromKM do), and repeated trailing zeros.

The log hazard ratio is the Cox estimate on the two reconstructed arms (Breslow ties),
with statsmodels' PHReg (checked against R's ``coxph(ties = "breslow")`` in
tests/fixtures/cox_breslow.json); statsmodels is imported only when a fit is needed.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .base import Derivation, Failed, NotEstimable, fmt
from .registry import Source, method

GUYOT_2012 = Source(
    "guyot2012",
    "Guyot P, Ades AE, Ouwens MJNM, Welton NJ. Enhanced secondary analysis of survival data: "
    "reconstructing the data from published Kaplan-Meier survival curves. BMC Med Res "
    "Methodol 2012;12:9.",
)

__all__ = [
    "KMEffect",
    "Reconstruction",
    "clean_curve",
    "clean_risk",
    "cox_loghr",
    "km_reconstruction_effect",
    "reconstruct",
    "reconstruct_ipd",
]


class Reconstruction(NamedTuple):
    """The reconstructed IPD of one arm and the per-point table it came from."""

    time: np.ndarray  # (n,) months
    event: np.ndarray  # (n,) bool
    t: np.ndarray  # cleaned digitized times (t[0] = 0)
    s: np.ndarray  # cleaned digitized S(t)
    n_hat: np.ndarray  # rebuilt number at risk just before each t (len(t) + 1)
    d: np.ndarray  # rebuilt events at each t
    cen: np.ndarray  # rebuilt censored in (t[k], t[k+1]]
    t_risk: np.ndarray  # at-risk times used
    n_risk: np.ndarray  # published numbers at risk used
    n_risk_hat: np.ndarray  # rebuilt numbers at risk at those times
    notes: list[str]


class KMEffect(NamedTuple):
    yi: float  # Cox log HR of treatment vs control on the reconstructed IPD
    vi: float  # its variance (inverse observed information)
    notes: list[str]
    events: tuple[int, int] = (0, 0)  # deaths rebuilt in each arm


# --------------------------------------------------------------------------------------
# Cleaning the digitized input
# --------------------------------------------------------------------------------------


def _pairs(points, what: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(points, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{what}: expected (time, value) pairs")
    return a[:, 0].copy(), a[:, 1].copy()


def clean_curve(t_km, s_km) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Digitized (t, S) as the algorithm needs them, and what was changed (module doc)."""
    t = np.asarray(t_km, dtype=float).ravel().copy()
    s = np.asarray(s_km, dtype=float).ravel().copy()
    if t.shape != s.shape:
        raise ValueError("KM points: times and survival proportions differ in length")
    if t.size == 0:
        raise ValueError("KM points: none given")
    if not (np.isfinite(t).all() and np.isfinite(s).all()):
        raise ValueError("KM points: times and survival proportions must be finite")
    if s.max() > 1.5:
        raise ValueError("KM points: survival above 1.5 (a percentage? give proportions)")
    notes: list[str] = []
    if (t < 0).any():
        notes.append(f"{int((t < 0).sum())} negative digitized time(s) set to 0")
        t = np.maximum(t, 0.0)
    if (s > 1).any() or (s < 0).any():
        notes.append(f"{int(((s > 1) | (s < 0)).sum())} survival value(s) clipped to [0, 1]")
        s = np.clip(s, 0.0, 1.0)
    order = np.lexsort((-s, t))
    if (order != np.arange(t.size)).any():
        notes.append("KM points sorted by time")
    t, s = t[order], s[order]
    at0 = (t == 0) & (s < 1)
    if at0.any():
        notes.append(f"S at time 0 read below 1 ({fmt(float(s[at0].min()))}): set to 1")
        s[t == 0] = 1.0
    s_mono = np.minimum.accumulate(s)
    if (s_mono < s).any():
        notes.append(
            f"S made non-increasing (running minimum) at {int((s_mono < s).sum())} point(s)"
        )
    s = s_mono
    keep = np.ones(t.size, bool)
    keep[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    if not keep.all():
        notes.append(f"{int((~keep).sum())} repeated KM point(s) dropped")
        t, s = t[keep], s[keep]
    if t[0] > 0:
        notes.append("S(0) = 1 added")
        t, s = np.concatenate([[0.0], t]), np.concatenate([[1.0], s])
    return t, s, notes


def clean_risk(t_risk, n_risk, t_last: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Numbers at risk: checked, sorted, and trimmed to the digitized curve (module doc)."""
    tr = np.asarray(t_risk, dtype=float).ravel()
    nr = np.asarray(n_risk, dtype=float).ravel()
    if tr.shape != nr.shape or tr.size == 0:
        raise ValueError("numbers at risk: times and numbers missing or of different length")
    if not (np.isfinite(tr).all() and np.isfinite(nr).all()):
        raise ValueError("numbers at risk must be finite")
    if (nr < 0).any() or (nr != np.round(nr)).any():
        raise ValueError("numbers at risk must be whole numbers >= 0")
    order = np.argsort(tr, kind="stable")
    tr, nr = tr[order], nr[order].astype(np.int64)
    if (np.diff(tr) == 0).any():
        raise ValueError("numbers at risk: a time appears twice")
    if tr[0] != 0:
        raise ValueError("numbers at risk: the number at risk at time 0 is needed")
    if (np.diff(nr) > 0).any():
        raise ValueError("numbers at risk must not increase over time")
    notes: list[str] = []
    zeros = np.flatnonzero(nr == 0)
    if zeros.size > 1:
        notes.append(f"{zeros.size - 1} repeated trailing zero(s) at risk dropped")
        tr, nr = tr[: zeros[0] + 1], nr[: zeros[0] + 1]
    beyond = tr > t_last
    if beyond.any():
        notes.append(
            "at-risk times after the last digitized time dropped: "
            + ", ".join(fmt(float(x)) for x in tr[beyond])
        )
        tr, nr = tr[~beyond], nr[~beyond]
    return tr, nr, notes


# --------------------------------------------------------------------------------------
# Guyot's algorithm
# --------------------------------------------------------------------------------------


def _hist_counts(x: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """R's ``hist(x, breaks, plot = FALSE)$counts`` (right-closed, lowest included, fuzz)."""
    nb = breaks.size
    h = np.diff(breaks)
    if nb > 5:
        diddle = 1e-7 * float(np.median(h))
    elif nb <= 3:
        diddle = 1e-7 * float(x.max() - x.min())
    else:
        diddle = 1e-7 * float(h[h > 0].min())
    fuzzy = breaks + np.r_[-diddle, np.full(nb - 1, diddle)]
    inside = (x >= fuzzy[0]) & (x <= fuzzy[-1])
    idx = np.searchsorted(fuzzy, x[inside], side="left") - 1
    return np.bincount(np.maximum(idx, 0), minlength=nb - 1)[: nb - 1]


def _spread(n_cens: int, t: np.ndarray, lo: int, end: int) -> np.ndarray:
    """``n_cens`` censorings evenly inside (t[lo], t[end]), counted per gap k = lo..end-1."""
    if end <= lo or t[end] <= t[lo]:
        return np.zeros(max(end - lo, 0), np.int64)
    j = np.arange(1, n_cens + 1, dtype=float)
    cen_t = t[lo] + j * (t[end] - t[lo]) / (n_cens + 1)
    return _hist_counts(cen_t, t[lo : end + 1])


_MAX_SEARCH = 1000  # censoring counts tried per search before settling (never reached)


class _State:
    """The vectors of the R code (0-based)."""

    def __init__(self, t: np.ndarray, s: np.ndarray, n0: int):
        self.t, self.s = t, [float(x) for x in s]
        n_t = t.size
        self.n_hat = [n0 + 1] * (n_t + 1)
        self.cen = [0] * n_t
        self.d = [0] * n_t
        self.km = [1.0] * n_t

    def set_cen(self, n_cens: int, lo: int, end: int) -> None:
        """Censoring on gaps lo..end-1, spread up to t[end] (0 censored when n_cens <= 0)."""
        counts = _spread(n_cens, self.t, lo, end) if n_cens > 0 else np.zeros(end - lo, int)
        self.cen[lo:end] = [int(c) for c in counts]

    def event_step(self, k: int, last: int) -> None:
        nh, km_last = self.n_hat[k], self.km[last]
        if nh <= 0 or km_last == 0:
            dk = 0
        else:
            dk = max(0, round(nh * (1.0 - self.s[k] / km_last)))
        self.d[k] = dk
        self.km[k] = km_last * (1.0 - dk / nh) if nh > 0 else km_last

    def pass_interval(self, i: int, lo: int, nxt: int, n_start: int, last: int) -> int:
        """Events and numbers at risk over points lo..nxt-1 (an interval but the last)."""
        self.n_hat[lo] = n_start
        for k in range(lo, nxt):
            if i == 0 and k == lo:
                self.d[k], self.km[k] = 0, 1.0
            else:
                self.event_step(k, last)
            self.n_hat[k + 1] = self.n_hat[k] - self.d[k] - self.cen[k]
            if self.d[k] != 0:
                last = k
        return last

    def pass_last(self, lo: int, hi: int, n_start: int, last: int, update_end: bool) -> int:
        """Events over the last interval's points lo..hi, at risk kept >= 0."""
        self.n_hat[lo] = n_start
        for k in range(lo, hi + 1):
            self.event_step(k, last)
            if update_end or k != hi:
                self.n_hat[k + 1] = self.n_hat[k] - self.d[k] - self.cen[k]
                if self.n_hat[k + 1] < 0:
                    self.n_hat[k + 1] = 0
                    self.cen[k] = self.n_hat[k] - self.d[k]
            if self.d[k] != 0:
                last = k
        return last


def _intervals(t: np.ndarray, tr: np.ndarray, nr: np.ndarray, notes: list[str]):
    """lower / upper point indices per at-risk interval, dropping intervals with no point."""
    lower = np.searchsorted(t, tr, side="left")
    nxt = np.r_[lower[1:], t.size]
    empty = nxt <= lower
    empty[0] = False  # holds t = 0
    if empty.any():
        notes.append(
            "at-risk times with no digitized point before the next one dropped: "
            + ", ".join(fmt(float(x)) for x in tr[empty])
        )
        tr, nr, lower = tr[~empty], nr[~empty], lower[~empty]
    upper = np.r_[lower[1:] - 1, t.size - 1]
    return tr, nr, [int(x) for x in lower], [int(x) for x in upper]


def reconstruct(t_km, s_km, t_risk, n_risk, total_events=None) -> Reconstruction:
    """Guyot's reconstruction of one arm, with the per-point table and the notes."""
    t, s, notes = clean_curve(t_km, s_km)
    tr, nr, risk_notes = clean_risk(t_risk, n_risk, float(t[-1]))
    notes += risk_notes
    tr, nr, lower, upper = _intervals(t, tr, nr, notes)
    n0 = int(nr[0])
    if total_events is not None:
        if total_events < 0 or total_events != round(total_events) or total_events > n0:
            raise ValueError(f"total events {total_events} not a whole number in 0..{n0}")
        total_events = int(total_events)
    n_int = len(lower)
    n_risk_used = [int(x) for x in nr]  # the R code updates this vector
    st = _State(t, s, n0)
    n_censor = [0] * n_int
    last_i = [0] * n_int
    last = 0

    # 1. Intervals 1 .. n_int - 1.
    for i in range(n_int - 1):
        lo, nxt = lower[i], lower[i + 1]
        target = n_risk_used[i + 1]
        first = n_risk_used[i] * s[nxt] / s[lo] if s[lo] > 0 else 0.0  # R's order of ops
        nc = round(first - target)
        tried: dict[int, int] = {}
        while st.n_hat[nxt] > target or (st.n_hat[nxt] < target and nc > 0):
            nc = max(nc, 0)
            if nc in tried or len(tried) > _MAX_SEARCH:  # a cycle: settle on the closest
                nc = min(tried, key=lambda c: (abs(tried[c] - target), c))
                st.set_cen(nc, lo, nxt)
                last = st.pass_interval(i, lo, nxt, n_risk_used[i], last_i[i])
                notes.append(
                    f"censoring search cycled on [{fmt(float(tr[i]))}, "
                    f"{fmt(float(tr[i + 1]))}): {nc} censored, rebuilt at risk "
                    f"{st.n_hat[nxt]} vs published {target}"
                )
                break
            st.set_cen(nc, lo, nxt)
            last = st.pass_interval(i, lo, nxt, n_risk_used[i], last_i[i])
            tried[nc] = st.n_hat[nxt]
            nc = nc + (st.n_hat[nxt] - target)
        n_censor[i] = nc
        if st.n_hat[nxt] != target:
            if st.n_hat[nxt] < 0:  # only on inconsistent input: no censoring instead
                st.set_cen(0, lo, nxt)
                last = st.pass_interval(i, lo, nxt, n_risk_used[i], last_i[i])
                n_censor[i] = 0
            if st.n_hat[nxt] != target:
                notes.append(
                    f"rebuilt number at risk at {fmt(float(tr[i + 1]))}: {st.n_hat[nxt]} "
                    f"(published {target})"
                )
            n_risk_used[i + 1] = st.n_hat[nxt]
        last_i[i + 1] = last

    # 2. The last interval.
    lo, hi = lower[-1], upper[-1]
    if n_int > 1:
        span = float(t[upper[-2]] - t[lower[0]])
        rate = sum(n_censor[:-1]) * float(t[hi] - t[lo]) / span if span > 0 else 0.0
        nc = min(round(rate), n_risk_used[-1])
    else:
        nc = 0
    nc = max(nc, 0)
    st.set_cen(nc, lo, hi)
    last = st.pass_last(lo, hi, n_risk_used[-1], last_i[-1], update_end=True)

    if total_events is not None:
        sum_dl = 0
        if n_int > 1:
            sum_dl = sum(st.d[:lo])
            if sum_dl >= total_events:
                st.d[lo : hi + 1] = [0] * (hi + 1 - lo)
                st.cen[lo:hi] = [0] * (hi - lo)
                st.n_hat[lo + 1 : hi + 2] = [n_risk_used[-1]] * (hi + 1 - lo)
                if sum_dl > total_events:
                    notes.append(
                        f"events rebuilt before {fmt(float(tr[-1]))} ({sum_dl}) exceed the "
                        f"reported total ({total_events}): none in the last interval"
                    )
        if sum_dl < total_events or n_int == 1:
            sum_d = sum(st.d[: hi + 1])
            tried = {nc: sum_d}
            while sum_d > total_events or (sum_d < total_events and nc > 0):
                nc = max(nc + (sum_d - total_events), 0)
                # More censoring cannot remove events once no one is left after the
                # interval's first point (or it has no gap): R's loop would never end.
                stuck = sum_d > total_events and (hi == lo or st.n_hat[lo + 1] == 0)
                if nc in tried or stuck or len(tried) > _MAX_SEARCH:
                    nc = min(tried, key=lambda c: (abs(tried[c] - total_events), c))
                    st.set_cen(nc, lo, hi)
                    st.pass_last(lo, hi, n_risk_used[-1], last_i[-1], update_end=False)
                    sum_d = sum(st.d[: hi + 1])
                    notes.append(
                        f"no censoring count in the last interval gives the reported total "
                        f"events: {nc} censored, closest"
                    )
                    break
                st.set_cen(nc, lo, hi)
                st.pass_last(lo, hi, n_risk_used[-1], last_i[-1], update_end=False)
                sum_d = sum(st.d[: hi + 1])
                tried[nc] = sum_d
            if sum_d != total_events:
                notes.append(
                    f"rebuilt total events {sum_d} differ from the reported {total_events}"
                )

    # 3. The IPD.
    d = np.asarray(st.d, np.int64)
    cen = np.asarray(st.cen, np.int64)
    cen[-1] = 0  # the last point's own count is part of the remainder below
    rest = n0 - int(d.sum()) - int(cen.sum())
    if rest < 0:  # cannot happen: every interval conserves its numbers
        raise RuntimeError("KM reconstruction lost count of patients")
    mid = (t[:-1] + t[1:]) / 2.0
    time = np.concatenate([np.repeat(t, d), np.repeat(mid, cen[:-1]), np.full(rest, t[-1])])
    event = np.concatenate([np.ones(d.sum(), bool), np.zeros(cen.sum() + rest, bool)])
    n_risk_hat = np.array([(time >= x).sum() for x in tr], dtype=np.int64)
    return Reconstruction(
        time=time,
        event=event,
        t=t,
        s=s,
        n_hat=np.asarray(st.n_hat, np.int64),
        d=d,
        cen=cen,
        t_risk=tr,
        n_risk=nr,
        n_risk_hat=n_risk_hat,
        notes=notes,
    )


def reconstruct_ipd(t_km, s_km, t_risk, n_risk, total_events=None):
    """(time, event) of one arm rebuilt from its digitized KM curve and numbers at risk."""
    rec = reconstruct(t_km, s_km, t_risk, n_risk, total_events)
    return rec.time, rec.event


# --------------------------------------------------------------------------------------
# Cox fit and the effect
# --------------------------------------------------------------------------------------


def _separation(tt, et, tc, ec) -> str | None:
    """Why the Cox estimate is infinite, or None when it is finite.

    With one binary covariate the score U(beta) = sum_j (x_j - pi_j(beta)) decreases in
    beta, and beta-hat is +infinite exactly when U(+inf) = 0, i.e. every control death
    occurs when no treated patient is at risk (and -infinite when every treated death
    occurs with no control at risk); an arm with no events is the simplest case. This is
    the monotone likelihood of Heinze & Schemper (2001), checked exactly before fitting:
    no one of the other arm is at risk (time >= t) at any of one arm's death times t.
    """
    if not et.any() and not ec.any():
        return "no events in either arm: the Cox log HR is undefined"
    if not et.any() or not ec.any():
        return "an arm has no events: the Cox log HR is infinite"
    for first, last, arm, other, sign in (
        (tc[ec].min(), tt.max(), "control", "treated", "+"),
        (tt[et].min(), tc.max(), "treated", "control", "-"),
    ):
        if first > last:
            return (
                f"complete separation: every {arm} death occurs after the last {other} patient "
                f"left follow-up ({last:g}), so the Cox log HR is {sign}infinite"
            )
    return None


def cox_loghr(time_t, event_t, time_c, event_c) -> tuple[float, float]:
    """Cox log HR of treatment vs control and its variance (Breslow ties, statsmodels PHReg).

    Equal to R's ``coxph(Surv(time, status) ~ arm, ties = "breslow")`` (coef and
    ``var``, the inverse observed information). Raises ValueError, saying why, when the
    estimate is infinite (an arm with no events, complete separation: ``_separation``),
    when Newton's method did not converge (statsmodels' ``mle_retvals``), or when the
    observed information at the estimate is not positive and finite (issue 19, item 3).
    """
    from statsmodels.base.model import LikelihoodModel
    from statsmodels.duration.hazard_regression import PHReg  # heavy: only when needed

    tt, tc = np.asarray(time_t, float), np.asarray(time_c, float)
    et, ec = np.asarray(event_t, bool), np.asarray(event_c, bool)
    if tt.shape != et.shape or tc.shape != ec.shape:
        raise ValueError("times and event indicators differ in length")
    why = _separation(tt, et, tc, ec)
    if why:
        raise ValueError(why)
    time = np.concatenate([tt, tc])
    status = np.concatenate([et, ec]).astype(float)
    arm = np.concatenate([np.ones(tt.size), np.zeros(tc.size)])[:, None]
    model = PHReg(time, arm, status=status, ties="breslow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-convergence is read from mle_retvals below
        # PHReg.fit drops mle_retvals; the likelihood fit it wraps keeps them.
        fit = LikelihoodModel.fit(model, method="newton", disp=False)
    yi = float(fit.params[0])
    info = -float(model.hessian(fit.params)[0, 0])
    if not fit.mle_retvals.get("converged", False):
        raise ValueError(f"the Cox fit did not converge (log HR {yi:.3g} after "
                         f"{fit.mle_retvals.get('iterations')} Newton steps)")  # fmt: skip
    if not (np.isfinite(yi) and np.isfinite(info) and info > 0):
        raise ValueError(f"the Cox fit's information at log HR {yi:.3g} is {info:.3g}, not > 0")
    return yi, 1.0 / info


def km_reconstruction_effect(
    t_arm_points,
    t_arm_risk,
    c_arm_points,
    c_arm_risk,
    events_t=None,
    events_c=None,
    labels: tuple[str, str] = ("treatment", "control"),
) -> KMEffect:
    """Log HR of treatment vs control from both arms' digitized curves and numbers at risk.

    ``*_points``: (time, S) pairs; ``*_risk``: (time, number at risk) pairs, time 0
    included; ``events_*``: reported total events per arm, or None. ``labels`` name the
    arms in the notes. Raises NotEstimable (message says why) when it cannot be done.
    """
    notes = [
        "IPD reconstructed from the digitized KM curves (Guyot 2012): censoring spread "
        "evenly within each at-risk interval",
        "log HR from a Cox model on the reconstructed IPD (Breslow ties)",
    ]
    ipd = []
    for label, points, risk, events in (
        (labels[0], t_arm_points, t_arm_risk, events_t),
        (labels[1], c_arm_points, c_arm_risk, events_c),
    ):
        try:
            t_km, s_km = _pairs(points, "KM points")
            t_r, n_r = _pairs(risk, "numbers at risk")
            rec = reconstruct(t_km, s_km, t_r, n_r, events)
        except ValueError as why:
            raise NotEstimable(f"{label}: {why}") from None
        notes += [f"{label}: {x}" for x in rec.notes]
        if events is None:
            notes.append(
                f"{label}: total events not reported: last interval censored at the "
                "earlier intervals' rate (Guyot)"
            )
        n_ev = int(rec.event.sum())
        notes.append(
            f"{label}: {rec.time.size} patients rebuilt, {n_ev} events"
            + ("" if events is None else f" (reported {fmt(float(events))})")
        )
        ipd.append(rec)
    try:
        yi, vi = cox_loghr(ipd[0].time, ipd[0].event, ipd[1].time, ipd[1].event)
    except ValueError as why:
        raise Failed(f"reconstructed patients: {why}") from None
    return KMEffect(yi, vi, notes, (int(ipd[0].event.sum()), int(ipd[1].event.sum())))


def _risk_with_start(arm, notes: list[str]) -> tuple:
    """The arm's at-risk table, with (0, n) from arms.csv when the paper's table lacks time 0."""
    risk = tuple(arm.at_risk)
    if risk and risk[0][0] > 0 and arm.n is not None:
        notes.append(f"{arm.arm_id}: number at risk at time 0 taken as n = {fmt(arm.n)}")
        risk = ((0.0, float(arm.n)), *risk)
    return risk


@method(
    precedence=50,
    label="Reconstructed individual data from digitized Kaplan-Meier curves",
    needs="digitized KM points + numbers at risk per arm",
    formula="IPD reconstructed from the curve and the numbers at risk (Guyot algorithm); "
    "yi = log HR of a Cox model with Breslow ties; vi = its variance",
    sources=(GUYOT_2012,),
    hazard_based=True,
    reads=("arms", "km_points, km_at_risk"),
)
def km_reconstruction(comp) -> Derivation:
    """Guyot 2012 on both arms' digitized curves, then Cox (Breslow) on the rebuilt IPD.

    A shared arm (multi-arm split) is rebuilt whole: patient data cannot be divided
    evenly, so its comparisons are correlated; the assumption says so.
    """
    t, c = comp.t, comp.c
    if not t.km or not c.km:
        raise NotEstimable("no digitized Kaplan-Meier curve for both arms")
    if not t.at_risk or not c.at_risk:
        raise NotEstimable("no numbers at risk for both arms")
    notes: list[str] = []
    risk_t, risk_c = _risk_with_start(t, notes), _risk_with_start(c, notes)
    eff = km_reconstruction_effect(
        t.km, risk_t, c.km, risk_c, t.events, c.events, labels=(t.arm_id, c.arm_id)
    )
    for arm in (t, c):
        if arm.shared_by > 1:
            notes.append(
                f"{arm.arm_id}: shared by {arm.shared_by} comparisons and rebuilt whole in each"
                " (the comparisons are correlated)"
            )
    reported = [
        f"{a.arm_id}: {len(a.km)} digitized KM points, at risk "
        + ", ".join(f"{fmt(tt)}mo {fmt(n)}" for tt, n in a.at_risk)
        for a in (t, c)
    ]
    return Derivation(
        "km_reconstruction", eff.yi, eff.vi, reported, [*eff.notes, *notes], events=eff.events
    )
