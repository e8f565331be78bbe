"""Which model an analysis is pooled with: comparisons nested in studies or independent.

methods.md section 4 and design.md's ``dependence`` key: ``auto`` (default) pools an
analysis in which some study gives more than one comparison with the multilevel model
(rma.mv), every other analysis with rma.uni (the two are the same there);
``multilevel`` always uses rma.mv; ``univariate`` never does. A multilevel analysis's
univariate pools, with the shared arm split or the arms combined, stay beside it as
sensitivity rows. Free of numpy and pandas.
"""

from __future__ import annotations

DEPENDENCE = ("auto", "multilevel", "univariate")
MV_METHODS = ("REML", "ML")
#: rma.mv rows' tests: z, t (df = studies - 1) and the CR2 cluster-robust t.
MV_TESTS = ("z", "t", "cr2")


def multilevel(study_ids, dependence: str = "auto") -> bool:
    """Whether comparisons with these study ids are pooled with the multilevel model."""
    ids = [str(s) for s in study_ids]
    if dependence == "multilevel":
        return len(ids) > 0
    if dependence == "auto":
        return len(set(ids)) < len(ids)
    return False


def mv_method(pooling: dict) -> str:
    """The rma.mv method: the review's when it is REML or ML, else REML (metafor's default)."""
    method = pooling.get("method", "REML")
    return method if method in MV_METHODS else "REML"


def mv_test(test: str) -> str:
    """methods.md section 4: knha, t and adhoc mean t for rma.mv rows, z means z; cr2 is
    the cluster-robust t."""
    return test if test in MV_TESTS else "t"
