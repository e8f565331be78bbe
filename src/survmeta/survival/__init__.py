"""Survival analysis on individual patient data, as R's survival package computes it.

The harmonization of digitized Kaplan-Meier curves (methods.md sections 1 and 6) needs four
things, one module each, each checked against R's survival 3.5 on a committed fixture:

* :mod:`.reconstruct`: the patients rebuilt from a digitized curve and its numbers at risk
  (Guyot 2012).
* :mod:`.km`: the Kaplan-Meier table (``survfit``).
* :mod:`.cox`: the Cox log hazard ratio of two arms, Breslow ties (``coxph``).
* :mod:`.zph`: the Grambsch-Therneau test of proportional hazards (``cox.zph``).
* :mod:`.rmst`: the restricted mean survival time and its standard error
  (``print(survfit(...), rmean = tau)``).

Nothing here knows about studies or tables: :mod:`survmeta.harmonize.km_reconstruction`
applies these to a study comparison.
"""
