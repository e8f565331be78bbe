"""The report's methods section, written from the config and the methods actually used.

Every sentence says what was done in this run, with the paper it comes from; the
formulas are those of docs/methods.md §1. What the report says about each harmonization
method (label, formula, sources, caveats) is declared with the method itself
(``survmeta.harmonize.registry``) and only read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..harmonize import REGISTRY, methods
from ..harmonize.registry import Method, describe
from ..harmonize.run import main_multiarm

#: Full references, cited by key in the text ("[key]") and listed in order of first use;
#: the harmonization methods' own sources are declared with the methods (``registry``).
REFERENCES = {
    "cochrane": "Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for "
    "Systematic Reviews of Interventions, version 6.5. Cochrane, 2024.",
    "dl1986": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials "
    "1986;7:177-88.",
    "viechtbauer2005": "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators "
    "in the random-effects model. J Educ Behav Stat 2005;30:261-93.",
    "pm1982": "Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur Stand "
    "1982;87:377-85.",
    "sj2005": "Sidik K, Jonkman JN. Simple heterogeneity variance estimation for meta-analysis. "
    "J R Stat Soc Ser C 2005;54:367-84.",
    "ho1985": "Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press, 1985.",
    "morris1983": "Morris CN. Parametric empirical Bayes inference: theory and applications. "
    "J Am Stat Assoc 1983;78:47-55.",
    "hk2001": "Hartung J, Knapp G. On tests of the overall treatment effect in meta-analysis "
    "with normally distributed responses. Stat Med 2001;20:1771-82.",
    "sj2002": "Sidik K, Jonkman JN. A simple confidence interval for meta-analysis. Stat Med "
    "2002;21:3153-9.",
    "inthout2014": "IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method "
    "for random effects meta-analysis is straightforward and considerably outperforms the "
    "standard DerSimonian-Laird method. BMC Med Res Methodol 2014;14:25.",
    "higgins2009": "Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of "
    "random-effects meta-analysis. J R Stat Soc Ser A 2009;172:137-59.",
    "higgins2002": "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. "
    "Stat Med 2002;21:1539-58.",
    "viechtbauer2007": "Viechtbauer W. Confidence intervals for the amount of heterogeneity in "
    "meta-analysis. Stat Med 2007;26:37-52.",
    "metafor": "Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat "
    "Softw 2010;36(3):1-48.",
    "borenstein2013": "Borenstein M, Higgins JPT. Meta-analysis and subgroups. Prev Sci "
    "2013;14:134-43.",
    "vc2010": "Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis. "
    "Res Synth Methods 2010;1:112-25.",
    "egger1997": "Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected "
    "by a simple, graphical test. BMJ 1997;315:629-34.",
    "begg1994": "Begg CB, Mazumdar M. Operating characteristics of a rank correlation test for "
    "publication bias. Biometrics 1994;50:1088-101.",
    "duval2000": "Duval S, Tweedie R. Trim and fill: a simple funnel-plot-based method of "
    "testing and adjusting for publication bias in meta-analysis. Biometrics 2000;56:455-63.",
    "peters2008": "Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L. Contour-enhanced "
    "meta-analysis funnel plots help distinguish publication bias from other causes of "
    "asymmetry. J Clin Epidemiol 2008;61:991-6.",
    "sterne2011": "Sterne JAC, Sutton AJ, Ioannidis JPA, et al. Recommendations for examining "
    "and interpreting funnel plot asymmetry in meta-analyses of randomised controlled trials. "
    "BMJ 2011;343:d4002.",
    "follmann1999": "Follmann DA, Proschan MA. Valid inference in random effects meta-analysis. "
    "Biometrics 1999;55:732-7.",
    "olkin2012": "Olkin I, Dahabreh IJ, Trikalinos TA. GOSH - a graphical display of study "
    "heterogeneity. Res Synth Methods 2012;3:214-23.",
    "grade2011": "Guyatt GH, Oxman AD, Akl EA, et al. GRADE guidelines: 1. Introduction - GRADE "
    "evidence profiles and summary of findings tables. J Clin Epidemiol 2011;64:383-94.",
    "hs2004": "Hunter JE, Schmidt FL. Methods of Meta-Analysis: Correcting Error and Bias in "
    "Research Findings, 2nd ed. Sage, 2004.",
    "viechtbauer2021": "Viechtbauer W. Median-unbiased estimators for the amount of "
    "heterogeneity in meta-analysis. Eur Psychol 2021;26:335-43.",
    "kh2003": "Knapp G, Hartung J. Improved tests for a random effects meta-regression with a "
    "single covariate. Stat Med 2003;22:2693-710.",
    "konstantopoulos2011": "Konstantopoulos S. Fixed effects and variance components estimation "
    "in three-level meta-analysis. Res Synth Methods 2011;2:61-76.",
    "pt2018": "Pustejovsky JE, Tipton E. Small-sample methods for cluster-robust variance "
    "estimation and hypothesis testing in fixed effects models. J Bus Econ Stat "
    "2018;36:672-83.",
    "rover2020": "Röver C. Bayesian random-effects meta-analysis using the bayesmeta R package. "
    "J Stat Softw 2020;93(6):1-51.",
    "friede2017": "Friede T, Röver C, Wandel S, Neuenschwander B. Meta-analysis of few small "
    "studies in orphan diseases. Res Synth Methods 2017;8:79-91.",
    "rover2021": "Röver C, Bender R, Dias S, et al. On weakly informative prior distributions "
    "for the heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth "
    "Methods 2021;12:448-74.",
    "gt1994": "Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on "
    "weighted residuals. Biometrika 1994;81:515-26.",
    "rp2013": "Royston P, Parmar MKB. Restricted mean survival time: an alternative to the "
    "hazard ratio for the design and analysis of randomized trials with a time-to-event "
    "outcome. BMC Med Res Methodol 2013;13:152.",
    "wei2015": "Wei Y, Royston P, Tierney JF, Parmar MKB. Meta-analysis of time-to-event "
    "outcomes from randomized trials using restricted mean survival time: application with "
    "individual participant data. Stat Med 2015;34:2881-98.",
}


REFERENCES.update({src.key: src.citation for m in REGISTRY.values() for src in m.sources})

ESTIMATORS = {
    "DL": ("DerSimonian-Laird", ("dl1986",)),
    "REML": ("restricted maximum likelihood (REML)", ("viechtbauer2005",)),
    "ML": ("maximum likelihood (ML)", ("viechtbauer2005",)),
    "PM": ("Paule-Mandel", ("pm1982",)),
    "SJ": ("Sidik-Jonkman", ("sj2005",)),
    "HE": ("Hedges (HE)", ("ho1985",)),
    "EB": ("empirical Bayes (EB)", ("morris1983",)),
    "HS": ("Hunter-Schmidt (HS)", ("hs2004",)),
    "HSk": ("Hunter-Schmidt with the small-sample correction (HSk)", ("hs2004",)),
    "PMM": ("median-unbiased Paule-Mandel (PMM)", ("viechtbauer2021",)),
}
TESTS = {
    "z": ("Wald-type z test and normal-based confidence interval", ()),
    "t": ("t distribution with k − 1 df and the z test's standard error", ()),
    "knha": (
        "Hartung-Knapp-Sidik-Jonkman method (t distribution with k − 1 df, not truncated)",
        ("hk2001", "sj2002", "inthout2014"),
    ),
    "adhoc": (
        "Hartung-Knapp method with Knapp and Hartung's ad hoc correction (never narrower than "
        "the z test's standard error; t with k − 1 df)",
        ("hk2001", "kh2003"),
    ),
    "cr2": (
        "cluster-robust CR2 variance by study with Satterthwaite degrees of freedom",
        ("pt2018",),
    ),
}
PRIOR_TEXT = {
    "halfnormal": "half-normal",
    "halfcauchy": "half-Cauchy",
    "uniform": "uniform",
}


@dataclass
class Citer:
    """Numbers references in order of first citation."""

    order: list[str] = field(default_factory=list)

    def __call__(self, *keys: str) -> str:
        nums = []
        for k in keys:
            if k not in self.order:
                self.order.append(k)
            nums.append(self.order.index(k) + 1)
        return f"[{', '.join(map(str, sorted(set(nums))))}]" if nums else ""

    def listing(self) -> list[tuple[int, str]]:
        return [(i + 1, REFERENCES[k]) for i, k in enumerate(self.order)]


def method_info(name: str) -> Method:
    """What the report says about a ``source_method``: label, formula, sources, caveat."""
    return describe(name)


def _caveats() -> list[dict]:
    """The methods' warnings, each once, with the methods that carry it (registry order)."""
    out: dict = {}
    for m in methods():
        for c in m.caveats:
            out.setdefault(c, []).append(m.name)
    return [{"text": c.text, "methods": tuple(names)} for c, names in out.items()]


def _names(xs) -> str:
    xs = list(xs)
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + " and " + xs[-1]


#: What the multilevel model buys, from tests/pool/test_multiarm_simulation.py (its seed's
#: figures; the ranges over 20 seeds are in its docstring).
MULTILEVEL_CAVEAT = (
    "Comparisons that share a study are not independent. In this project's simulation of six "
    "cohort studies (four of them three-arm: 10 comparisons; true HR 0.7; 1,000 replicates; "
    "tests/pool/test_multiarm_simulation.py), pooling each study's comparisons as separate "
    "studies gave 95% confidence intervals that held the true HR in 94% of replicates without "
    "heterogeneity but in only 86% (88% with the shared arm split) when the effect varied "
    "between studies; the multilevel model held it in 97% with its t test (studies − 1 "
    "degrees of freedom) and 95% with the cluster-robust CR2 interval. Every pooled log HR was "
    "biased by at most +0.01."
)


def methods_section(config: dict, used: dict[str, int], cite: Citer) -> dict:
    """Paragraphs (plain text, cited) of the methods and the caveats, from the config.

    ``used``: source_method -> number of chosen comparisons (in the order to show them).
    """
    pooling = {"method": "REML", "test": "knha", "level": 0.95, **(config.get("pooling") or {})}
    sens = config.get("sensitivity") or {}
    level = f"{float(pooling['level']) * 100:g}%"
    est_name, est_refs = ESTIMATORS.get(pooling["method"], (pooling["method"], ()))
    test_name, test_refs = TESTS.get(pooling["test"], (pooling["test"], ()))
    paras = []
    harm = (
        "Each study comparison (study, outcome, treatment arm, control arm) was put on the log "
        "hazard ratio of the analysis's treatment versus its control (HR < 1 favours the "
        "treatment; for the ratio of medians, > 1 does), with its variance, by the first method "
        "in a fixed order of precedence that the reported numbers allowed (docs/methods.md §1). "
    )
    if used:
        parts = []
        for name, n in used.items():
            info = method_info(name)
            parts.append(
                f"{name} ({info.label.lower()}; {n} comparison{'s' * (n != 1)}) {cite(*info.refs)}"
            )
        harm += f"Methods used in this run: {'; '.join(parts)}. "
    harm += (
        "Where more than one method was possible, the others are shown beside the chosen one in "
        "the audit trail, with a z for each one's difference from the chosen estimate "
        "(|z| > 1.96 flagged as a disagreement beyond sampling error). A method that could not "
        "compute an estimate with a positive variance for a comparison said why and the next "
        "one was tried. A hazard ratio reported the other way round was inverted. "
    )
    multi = main_multiarm(config)
    if multi == "combine":
        harm += (
            "In multi-arm studies the treatment arms sharing one control were combined (n and "
            f"events summed) before deriving one comparison {cite('cochrane')}."
        )
    elif multi == "whole":
        harm += (
            "In multi-arm studies every arm was kept whole; comparisons that share an arm are "
            "correlated, which the multilevel model accounts for."
        )
    else:
        harm += (
            "In multi-arm studies a control arm shared by several comparisons had its n and events "
            "divided evenly among them for the count-based methods; hazard ratios reported per "
            f"comparison were kept as reported {cite('cochrane')}. A p-value comes from the test "
            "on the whole arms, so p_events and median_p took their estimate from the whole "
            "arms and only their variance from the divided ones."
        )
    paras.append(harm)

    pool = (
        f"Comparisons were pooled by inverse-variance random-effects meta-analysis; the "
        f"between-study variance tau² was estimated by {est_name} {cite(*est_refs)}, and the "
        f"{level} confidence interval and the test of the overall effect used the {test_name} "
        f"{cite(*test_refs)}. The {level} prediction interval is estimate ± crit·√(se² + tau²) "
        f"with the test's critical value {cite('higgins2009')}; heterogeneity is reported as "
        f"Cochran's Q with its df and p, I² and H² {cite('higgins2002')}, and tau² with its "
        f"Q-profile confidence interval {cite('viechtbauer2007')}. Every pooled number "
        f"reproduces R's metafor (rma.uni, predict, confint) {cite('metafor')}. An analysis "
        "with a single comparison shows that comparison's own estimate."
    )
    paras.append(pool)

    methods = [m for m in sens.get("methods", [pooling["method"]])]
    tests = [t for t in sens.get("tests", [pooling["test"]])]
    refs = []
    for m in methods:
        refs += ESTIMATORS.get(m, ("", ()))[1]
    sens_text = (
        f"Sensitivity analyses: every tau² estimator in {_names(methods)} crossed with the "
        f"{_names(tests)} test{'s' * (len(tests) != 1)} {cite(*dict.fromkeys(refs))}; "
        f"leave-one-out, cumulative (by year) and influence diagnostics "
        f"{cite('vc2010')}; subgroups pooled each with its own tau², with the test for subgroup "
        f"differences (Q between subgroups) {cite('borenstein2013')}; Egger's regression test "
        f"(predictor: standard error) {cite('egger1997')}, Begg's rank correlation test "
        f"{cite('begg1994')} and trim-and-fill (estimator L0) {cite('duval2000')}, shown on a "
        f"contour-enhanced funnel plot {cite('peters2008')} — with fewer than 10 comparisons "
        f"these tests have little power {cite('sterne2011')}; and a permutation test "
        f"{cite('follmann1999')}."
    )
    if sens.get("gosh"):
        sens_text += (
            f" A GOSH analysis fitted the model to every subset of comparisons (a seeded "
            f"random sample when there are too many) {cite('olkin2012')}."
        )
    paras.append(sens_text)
    paras += _model_paragraphs(config, pooling, level, cite)
    paras.append(
        "Certainty of the evidence is summarized in the GRADE manner "
        f"{cite('grade2011')} as a draft for the reviewers: the domains are rated by the fixed "
        "rules stated beside each table, which a reviewer must check and may overrule."
    )

    caveats = _caveats()
    return {"paragraphs": paras, "caveats": caveats}


def _model_paragraphs(config: dict, pooling: dict, level: str, cite: Citer) -> list[str]:
    """The multilevel model, the Bayesian pooling and the non-proportional-hazards measures."""
    out = []
    dependence = config.get("dependence", "auto")
    if dependence != "univariate":
        out.append(
            (
                "Every analysis in which a study gives more than one comparison"
                if dependence == "auto"
                else "Every analysis"
            )
            + " was pooled with a multilevel model that counts studies, not comparisons "
            f"{cite('konstantopoulos2011')}: a random effect per study and one per comparison "
            "within it (σ²_study, σ²_comparison, REML unless ML was chosen), with the sampling "
            "covariance of comparisons that share an arm (the shared arm's 1/E, or half the "
            "geometric mean of the two variances without its events; correlations capped at "
            "0.99) so that a shared arm is counted once. Its t test and interval use studies − 1 "
            "degrees of freedom, and a cluster-robust CR2 variance by study with Satterthwaite "
            f"degrees of freedom {cite('pt2018')} is shown beside it; the prediction interval "
            "adds both variance components. Q_E is Cochran's Q with the full sampling "
            "covariance. The univariate pools with the shared arm split evenly, and with the "
            f"arms combined {cite('cochrane')}, are shown beside it, with what each assumes; "
            "leave-one-out, funnel-plot tests, trim-and-fill, GOSH and the permutation test, "
            "which have no multilevel form, were run on the split comparisons and say so. The "
            f"multilevel numbers reproduce metafor's rma.mv and clubSandwich {cite('metafor')}."
        )
    priors = list((config.get("bayes") or {}).get("priors") or
                  [{"tau": "halfnormal", "scale": 0.5}])  # fmt: skip
    named = [f"{PRIOR_TEXT.get(str(p['tau']), p['tau'])}({p['scale']})" for p in priors]
    out.append(
        "Because most of these analyses pool few studies, where τ is barely estimable and "
        "frequentist intervals are fragile, each was also pooled by Bayesian random-effects "
        f"meta-analysis {cite('rover2020')}: a flat prior on the mean effect and a "
        f"{named[0]} prior on τ, weakly informative on the log hazard ratio scale "
        f"{cite('friede2017', 'rover2021')}"
        + (f", with {', '.join(named[1:])} as prior sensitivity" if len(named) > 1 else "")
        + ". Posterior medians, equal-tailed credible and predictive intervals and the "
        "probability that the treatment is better come from numerical integration over τ, "
        "not sampling. A multilevel analysis was pooled from its split comparisons here."
    )
    out.append(
        "Where a study's Kaplan-Meier curves were digitized, its patients were reconstructed "
        "(Guyot) and the proportional-hazards assumption tested on them (Grambsch-Therneau, "
        f"Kaplan-Meier time transform) {cite('gt1994')}; a study with p < 0.05 is flagged, "
        "since its hazard ratio averages an effect that changes over time. For such studies "
        "the restricted mean survival time difference up to a common horizon needs no "
        f"proportional hazards {cite('rp2013', 'wei2015')}"
        + (
            " and is pooled as an analysis of its own (months; > 0 favours the treatment)."
            if any(a.get("metric") == "rmst_diff" for a in config.get("analyses", []))
            else " (configure an analysis with metric: rmst_diff to pool it)."
        )
    )
    return out
