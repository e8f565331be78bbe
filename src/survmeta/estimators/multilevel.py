"""Comparisons nested in studies: metafor's ``rma.mv(yi, V, random = ~ 1 | study/comparison)``.

A study that gives several comparisons to one analysis (a three-arm trial, several
modalities against one shared arm) is one study: its comparisons share the study's
random effect and, through a shared arm, their sampling errors are correlated (V,
vcov.py). The marginal covariance is

    M = V + sigma2_study Z Z' + sigma2_comparison I,

Z the study indicator. sigma2 are estimated by REML or ML over sigma2 >= 0, solved
to full precision (methods.md section 4: metafor's optimizers stop 1e-8 to 4e-7 short
of the optimum; its reference numbers are taken at the exact optimum): on each face of
the constraint box (both free, one free, none) the likelihood is maximised by Newton's
method from the best point of a grid, and the best face wins. The coefficients are
GLS with M; the tests (rma.py's ``wald``) are z, or t with df = studies - 1 (metafor's
``dfs = "contain"``); Q_E uses the full V; ``predict`` adds both components to the
prediction interval. :func:`robust_cr2` is ``robust(fit, cluster = study, clubSandwich =
TRUE)``: the CR2 sandwich with Satterthwaite df (Pustejovsky & Tipton 2018), line for
line as clubSandwich 0.5.8's ``vcov_CR``/``coef_test`` for an inverse-variance model.
Checked against tests/fixtures/multilevel_metafor.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dist
from .rma import K0, Prediction, wald

MV_METHODS = ("REML", "ML")
MV_TESTS = ("z", "t")
SINGLE_STUDY = (
    "Single-level factor(s) found in 'random' argument. Corresponding 'sigma2' value(s) fixed to 0."
)
TOTAL_ONLY = (
    "every study gives one comparison: only sigma2_study + sigma2_comparison is identified "
    "(reported as sigma2_study, sigma2_comparison = 0)"
)


def _study_matrix(study) -> tuple[np.ndarray, int]:
    codes, first = np.unique(np.asarray(study, dtype=object).astype(str), return_inverse=True)
    return (first[:, None] == first[None, :]).astype(float), codes.size


class _Likelihood:
    """-2 x the (restricted) log-likelihood of (sigma2_study, sigma2_comparison), its
    gradient and Hessian (constants dropped), for one dataset."""

    def __init__(self, y, V, S, X, method):
        self.y, self.V, self.S, self.X, self.method = y, V, S, X, method
        self.eye = np.eye(y.size)

    def parts(self, theta):
        M = self.V + theta[0] * self.S + theta[1] * self.eye
        L = np.linalg.cholesky(M)
        Mi = np.linalg.inv(M)
        MiX = Mi @ self.X
        xmx = self.X.T @ MiX
        P = Mi - MiX @ np.linalg.solve(xmx, MiX.T)
        Py = P @ self.y
        f = 2 * np.log(np.diag(L)).sum() + self.y @ Py
        if self.method == "REML":
            f += np.linalg.slogdet(xmx)[1]
        return f, P, Mi, Py

    def value(self, theta) -> float:
        try:
            return float(self.parts(theta)[0])
        except np.linalg.LinAlgError:
            return np.inf

    def values(self, thetas: np.ndarray) -> np.ndarray:
        """f at each row of ``thetas`` (G, 2), in one batched evaluation (the grid search)."""
        M = self.V + thetas[:, 0, None, None] * self.S + thetas[:, 1, None, None] * self.eye
        sign, logdet = np.linalg.slogdet(M)
        Mi = np.linalg.inv(M)
        X = self.X
        xmx = np.einsum("kp,gkl,lq->gpq", X, Mi, X)
        rhs = np.einsum("kp,gkl,l->gp", X, Mi, self.y)
        b = np.linalg.solve(xmx, rhs[..., None])[..., 0]
        r = self.y - b @ X.T
        f = logdet + np.einsum("gi,gij,gj->g", r, Mi, r)
        if self.method == "REML":
            f = f + np.linalg.slogdet(xmx)[1]
        return np.where(sign > 0, f, np.inf)

    def derivatives(self, theta):
        """Gradient and Hessian of f = -2 ll in theta (REML: traces of P; ML: of M^-1)."""
        _, P, Mi, Py = self.parts(theta)
        T = P if self.method == "REML" else Mi
        A = (self.S, self.eye)
        TA = [T @ a for a in A]
        PA = [P @ a for a in A]
        g = np.array([np.trace(TA[i]) - Py @ A[i] @ Py for i in range(2)])
        H = np.empty((2, 2))
        for i in range(2):
            for j in range(2):
                H[i, j] = -np.sum(TA[i] * TA[j].T) + 2 * Py @ A[i] @ PA[j] @ Py
        return g, H


def _newton(lik: _Likelihood, theta, free) -> np.ndarray:
    """Minimise f over the free coordinates (> 0), the others fixed: Newton with halving."""
    theta = np.array(theta, dtype=float)
    idx = np.flatnonzero(free)
    f = lik.value(theta)
    for _ in range(200):
        g, H = lik.derivatives(theta)
        g, H = g[idx], H[np.ix_(idx, idx)]
        try:
            step = -np.linalg.solve(H, g)
            if g @ step >= 0:  # not a descent direction: fall back to the gradient
                raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            step = -g * max(theta[idx].max(), 1e-6) / max(np.abs(g).max(), 1e-300)
        t = 1.0
        while True:
            cand = theta.copy()
            cand[idx] = theta[idx] + t * step
            if np.all(cand[idx] > 0):
                fc = lik.value(cand)
                if fc <= f:
                    break
            t /= 2
            if t < 1e-30:
                return theta
        moved = np.abs(cand - theta).max()
        theta, f = cand, fc
        if moved <= 1e-15 * max(1.0, theta.max()):
            break
    return theta


def solve_sigma2(y, V, S, X, method: str, fixed=(False, False)) -> np.ndarray:
    """The exact maximiser of the (restricted) likelihood over sigma2 >= 0 (see module)."""
    lik = _Likelihood(y, V, S, X, method)
    scale = float(np.median(np.diag(V)))
    grid = np.concatenate([[0.0], scale * np.logspace(-5, 3, 33)])
    candidates = []
    for free in ((True, True), (True, False), (False, True), (False, False)):
        if any(fr and fx for fr, fx in zip(free, fixed, strict=True)):
            continue
        axes = [grid[1:] if fr else np.zeros(1) for fr in free]
        pts = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
        start = pts[int(np.argmin(lik.values(pts)))]
        theta = _newton(lik, start, np.array(free)) if any(free) else start
        candidates.append((lik.value(theta), tuple(theta)))
    return np.array(min(candidates)[1])


@dataclass
class MVResults:
    """One rma.mv fit and its test, named as in metafor (coefficients (p, 1), as rma.py)."""

    method: str
    test: str
    level: float
    k: int
    k_studies: int
    p: int
    beta: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    dfs: float
    vb: np.ndarray
    sigma2_study: float
    sigma2_comparison: float
    qe: float
    qep: float
    qe_df: int
    error: str | None
    notes: tuple = ()
    crit: float = field(default=np.nan, repr=False)

    @property
    def estimate(self) -> float:
        return float(self.beta[0, 0])

    def predict(self) -> Prediction:
        """metafor's ``predict()``: the PI adds sigma2_study + sigma2_comparison."""
        se = self.se[0]
        pred = self.beta[0]
        pi_se = np.sqrt(se**2 + self.sigma2_study + self.sigma2_comparison)
        return Prediction(pred, se, self.ci_lb[0], self.ci_ub[0], pred - self.crit * pi_se,
                          pred + self.crit * pi_se)  # fmt: skip


@dataclass
class MVFit:
    """sigma2 and the GLS coefficients of one dataset; tests on request."""

    method: str
    y: np.ndarray
    V: np.ndarray
    study: np.ndarray
    X: np.ndarray
    sigma2: np.ndarray
    M: np.ndarray
    beta: np.ndarray
    vb: np.ndarray
    k_studies: int
    qe: float
    qe_df: int
    notes: tuple = ()

    def results(self, test: str = "z", level: float = 0.95) -> MVResults:
        """z, or t with metafor's ``dfs = "contain"`` df (studies - 1, at least 1)."""
        if test not in MV_TESTS:
            raise ValueError(f"unknown test {test!r} for rma.mv; expected one of z, t")
        dfs = np.array([np.nan if test == "z" else float(max(1, self.k_studies - 1))])
        beta = self.beta[:, None]
        se, zval, pval, crit = wald(beta, self.vb[None], dfs, level)
        return MVResults(
            self.method, test, level, self.y.size, self.k_studies, self.X.shape[1], beta, se,
            zval, pval, beta - crit * se, beta + crit * se, float(dfs[0]), self.vb,
            float(self.sigma2[0]), float(self.sigma2[1]), self.qe,
            float(dist.chi2_sf(self.qe, self.qe_df)), self.qe_df, None, self.notes,
            float(crit[0]),
        )  # fmt: skip


def rma_mv(y, V, study, method: str = "REML", X=None) -> MVFit:
    """Fit ``rma.mv(yi, V, random = ~ 1 | study/comparison, method)`` (one row per comparison).

    ``V`` is the full sampling covariance (vcov.py). Raises ValueError for k = 0, an
    unknown method or a V that is not positive definite.
    """
    if method not in MV_METHODS:
        raise ValueError(f"unknown method {method!r} for rma.mv; expected one of REML, ML")
    y = np.asarray(y, dtype=float)
    V = np.asarray(V, dtype=float)
    if y.size == 0:
        raise ValueError(K0)
    X = np.ones((y.size, 1)) if X is None else np.asarray(X, dtype=float)
    try:
        np.linalg.cholesky(V)
    except np.linalg.LinAlgError as err:
        raise ValueError("the sampling covariance V is not positive definite") from err
    S, n_studies = _study_matrix(study)
    fixed, notes = [False, False], []
    if n_studies == 1:
        fixed[0] = True
        notes.append(SINGLE_STUDY)
    elif np.all(S == np.eye(y.size)):
        fixed[1] = True
        notes.append(TOTAL_ONLY)
    sigma2 = solve_sigma2(y, V, S, X, method, tuple(fixed))
    M = V + sigma2[0] * S + sigma2[1] * np.eye(y.size)
    Mi = np.linalg.inv(M)
    vb = np.linalg.inv(X.T @ Mi @ X)
    beta = vb @ X.T @ Mi @ y
    Vi = np.linalg.inv(V)  # Q_E: the fixed-effects GLS with V alone
    b_fe = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
    r = y - X @ b_fe
    qe = max(0.0, float(r @ Vi @ r))
    return MVFit(method, y, V, np.asarray(study), X, sigma2, M, beta, vb, n_studies, qe,
                 y.size - X.shape[1], tuple(notes))  # fmt: skip


def _sym_power(a: np.ndarray, power: float) -> np.ndarray:
    """clubSandwich's ``matrix_power``: eigenvalues below 1e-12 set to 0."""
    val, vec = np.linalg.eigh(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        val_p = np.where(val > 1e-12, val**power, 0.0)
    return (vec * val_p) @ vec.T


@dataclass
class RobustResults:
    """``robust(fit, cluster = study, clubSandwich = TRUE)``: CR2 se, Satterthwaite df."""

    beta: np.ndarray
    se: np.ndarray
    tval: np.ndarray
    dfs: np.ndarray
    pval: np.ndarray
    ci_lb: np.ndarray
    ci_ub: np.ndarray
    vb: np.ndarray
    n_clusters: int
    pi_lb: float
    pi_ub: float


def robust_cr2(fit: MVFit, level: float = 0.95) -> RobustResults:
    """The CR2 cluster-robust variance by study, with Satterthwaite df per coefficient.

    clubSandwich with the model's own weights (``inverse_var``): W_j = M_j^-1, target
    M_j, U = X. A_j = D_j' G_j^(-1/2) D_j with M_j = D_j' D_j (Cholesky) and
    G_j = D_j (I - X_j B X_j' W_j) M_j D_j', B = (X'WX)^-1; V_R = B (sum E_j e_j e_j' E_j') B
    with E_j = X_j' W_j A_j. Satterthwaite: for coefficient i, P_i = diag(|(B E_j D_j')_i|^2)
    - (H_i' H_i) with H_j = B E_j X_j chol(B); df = 2 tr(P_i)^2 / (2 sum P_i^2).
    """
    study = np.asarray(fit.study, dtype=object).astype(str)
    clusters = list(dict.fromkeys(study))
    if len(clusters) < 2:
        raise ValueError(
            "Cluster-robust variance estimation will not work when the data only includes "
            "a single cluster."
        )
    X, y, M, B = fit.X, fit.y, fit.M, fit.vb
    p = X.shape[1]
    resid = y - X @ fit.beta
    Lb = np.linalg.cholesky(B)
    comps, G_rows, H = [], [], []
    for c in clusters:
        j = np.flatnonzero(study == c)
        Mj, Xj = M[np.ix_(j, j)], X[j]
        Wj = np.linalg.inv(Mj)
        D = np.linalg.cholesky(Mj).T  # upper: Mj = D' D
        ih = np.eye(j.size) - Xj @ B @ Xj.T @ Wj
        G = D @ ih @ Mj @ D.T
        A = D.T @ _sym_power(G, -0.5) @ D
        E = Xj.T @ Wj @ A  # (p, n_j)
        comps.append(E @ resid[j])
        ME = B @ E
        G_rows.append(ME @ D.T)  # (p, n_j)
        H.append(ME @ Xj @ Lb)  # (p, p)
    C = np.array(comps)  # (J, p)
    vb = B @ (C.T @ C) @ B
    se = np.sqrt(np.diag(vb))
    dfs = np.empty(p)
    for i in range(p):
        Hi = np.array([h[i] for h in H])  # (J, p)
        P = -(Hi @ Hi.T)
        P[np.diag_indices_from(P)] += [np.sum(g[i] ** 2) for g in G_rows]
        dfs[i] = 2 * np.trace(P) ** 2 / (2 * np.sum(P**2))
    beta = fit.beta
    tval = beta / se
    alpha = 1.0 - level
    crit = dist.t_isf(alpha / 2, dfs)
    pi_se = np.sqrt(se[0] ** 2 + fit.sigma2.sum())
    return RobustResults(
        beta, se, tval, dfs, 2 * dist.t_sf(np.abs(tval), dfs), beta - crit * se,
        beta + crit * se, vb, len(clusters), float(beta[0] - crit[0] * pi_se),
        float(beta[0] + crit[0] * pi_se),
    )  # fmt: skip


#: Columns of ``leave1study.csv`` after ``study_id`` (leave1out's, plus both components).
LEAVE1STUDY_COLUMNS = (
    "estimate se zval pval ci_lb ci_ub q qp pi_lb pi_ub sigma2_study sigma2_comparison".split()
)
K1_MV = "Processing terminated since k <= 1."


def leave1study(y, V, study, method="REML", test="z", level=0.95) -> list[dict]:
    """The multilevel model refitted without each study (all its comparisons) in turn.

    One record per omitted study, in first-appearance order; a refit of a single
    comparison is declined as metafor declines it.
    """
    y = np.asarray(y, dtype=float)
    V = np.asarray(V, dtype=float)
    study = np.asarray(study, dtype=object).astype(str)
    out = []
    for s in dict.fromkeys(study):
        keep = np.flatnonzero(study != s)
        rec = {"study_id": s, **dict.fromkeys(LEAVE1STUDY_COLUMNS, np.nan)}
        if keep.size <= 1:
            out.append({**rec, "status": K1_MV})
            continue
        res = rma_mv(y[keep], V[np.ix_(keep, keep)], study[keep], method).results(test, level)
        pred = res.predict()
        rec.update(
            estimate=res.estimate, se=res.se[0, 0], zval=res.zval[0, 0], pval=res.pval[0, 0],
            ci_lb=res.ci_lb[0, 0], ci_ub=res.ci_ub[0, 0], q=res.qe, qp=res.qep,
            pi_lb=pred.pi_lb[0], pi_ub=pred.pi_ub[0], sigma2_study=res.sigma2_study,
            sigma2_comparison=res.sigma2_comparison,
        )  # fmt: skip
        out.append({**rec, "status": "ok", "notes": "; ".join(res.notes)})
    return out
