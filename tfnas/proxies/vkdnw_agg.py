"""VKDNW_agg (Tybl & Neumann, CVPR 2025): VKDNW_single's log dense rank plus four log ranks.

Definition (ondratybl/VKDNW, ``NB201/tss_utils.py`` ``get_scores``, the ``vkdnw`` branch's
``vkdnw_comb_rank``, the column ``paper_preparation.ipynb`` reports as VKDNW_agg in Table 1; read
at 779a3a8 and at 0ed0616, unchanged between them), over the frame of cells scored (the notebook's
filtered frame: the 9,445 cells without dead operations)::

    log(dense rank of (vkdnw_dim, vkdnw_entropy))
      + log(rank(expressivity)) + log(rank(trainability)) + log(rank(flops)) + log(rank(jacov))

with pandas ``rank`` (ascending; ``method='dense'`` for the tuples, the default ``'average'`` for
the others, NaN kept as NaN) and no division by the frame's size (a constant that changes no
order). Before it, ``tss_analyze.ipynb`` fills a NaN ``jacov`` with the frame's minimum
(``run['jacov'].fillna(run['jacov'].min())``).

tfnas's members: ``vkdnw_single`` (one float whose order is exactly that of the tuples ``(ℵ,
float32 entropy)``, :func:`tfnas.proxies.vkdnw.single_score`, so its dense rank is the tuples'),
``az_expressivity`` and ``az_trainability`` (AZ-NAS's components, as the anchor's frame takes them
from ``compute_az_nas_score``), ``flops`` (NATS-Bench's counting rule; the anchor reads the API's
FLOPs) and ``jacob_cov``. The last is where tfnas differs: the anchor's ``jacov``
(``compute_jacov_score.py``, AZ-NAS's port) re-initialises the network Kaiming fan-in before
zero-cost-nas's formula, and its scripts' versions disagree on the batch (32 or 64) and on real
or no input; tfnas's ``jacob_cov`` is zero-cost-nas's at the scoring rule's init on a real batch
of 64. The claims that compare tfnas's jacob_cov with VKDNW's own jacov row
(``vkdnw-rerun-jacob_cov-*``) measure how far that member is from theirs.

Non-finite member scores: a ``jacob_cov`` of ``-inf`` (tfnas's scoring stores the formula's NaN as
``-inf``) or NaN is the population's smallest finite ``jacob_cov`` (the anchor's fill); ``-inf``
of the other members ranks lowest (pandas ranks ``-inf`` first); a NaN of another member makes
the cell's aggregate NaN (pandas keeps it; its correlation then drops the cell, the harness ranks
a non-finite aggregate last).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.stats

from tfnas.proxies.az_nas import member_arrays
from tfnas.proxies.registry import register_proxy

MEMBERS = ("vkdnw_single", "az_expressivity", "az_trainability", "flops", "jacob_cov")
"""The aggregate's members, in the anchor's sum order."""
FILLED = "jacob_cov"
"""The member whose missing scores the anchor fills with the population's minimum."""


def log_rank(values: np.ndarray, method: str = "average") -> np.ndarray:
    """``log`` of pandas' ascending ``rank(method=method)``: ranks among the non-NaN values, NaN
    kept as NaN (``-inf`` and ``inf`` rank first and last)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    ok = ~np.isnan(values)
    if ok.any():
        out[ok] = np.log(scipy.stats.rankdata(values[ok], method=method))
    return out


def filled(values: np.ndarray) -> np.ndarray:
    """Non-finite values replaced by the smallest finite value (all kept if none is finite)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return values
    return np.where(finite, values, values[finite].min())


@register_proxy(
    "vkdnw_agg", members=MEMBERS,
    help="VKDNW_agg: log dense rank of VKDNW_single plus the log ranks of expressivity, "
         "trainability, FLOPs and jacob_cov, within the population.",
    reference="Tybl & Neumann CVPR 2025 (VKDNW_agg); ondratybl/VKDNW NB201/tss_utils.py "
              "(get_scores, vkdnw_comb_rank) and tss_analyze.ipynb (jacov fill)",
    variant="VKDNW_agg over a population of cells: log of the dense rank of vkdnw_single (the "
            "anchor's (vkdnw_dim, vkdnw_entropy) tuples) + log of the average ranks of "
            "az_expressivity, az_trainability, flops and jacob_cov (pandas rank, ascending, no "
            "division by N), within the population scored. Non-finite jacob_cov (tfnas's stored "
            "NaN) is the population's smallest finite jacob_cov (the anchor's fillna(min)); -inf "
            "of another member ranks lowest; NaN of another member makes the aggregate NaN. "
            "Member difference: the anchor's jacov re-initialises the network Kaiming fan-in "
            "(AZ-NAS's compute_jacov_score.py); tfnas's jacob_cov is zero-cost-nas's at the "
            "scoring rule's init on a real batch of 64. Higher is better.")
def vkdnw_agg(scores: Mapping[str, np.ndarray]) -> np.ndarray:
    """VKDNW_agg of each cell of a population from its members' scores (module doc)."""
    arrays = dict(zip(MEMBERS, member_arrays(scores, MEMBERS), strict=True))
    if next(iter(arrays.values())).shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    arrays[FILLED] = filled(arrays[FILLED])
    total = log_rank(arrays[MEMBERS[0]], method="dense")
    for name in MEMBERS[1:]:
        total = total + log_rank(arrays[name])
    return total


__all__ = ["FILLED", "MEMBERS", "filled", "log_rank", "vkdnw_agg"]
