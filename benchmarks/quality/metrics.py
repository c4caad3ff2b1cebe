"""nDCG@10, MRR@10 and Recall@100 of a ranking against judgments, computed by ir-measures.

``ir-measures`` (which runs trec_eval's code through ``pytrec_eval-terrier``) computes each
query's values; the means are taken here over every judged query, so a query a system
returns nothing for counts as 0 (trec_eval itself would leave it out of the mean).
Ranks are turned into strictly decreasing scores, so the order evaluated is exactly the
system's order (trec_eval sorts by score and would break ties by document id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MEASURES = ("nDCG@10", "MRR@10", "R@100")
# Our names -> ir-measures' (reciprocal rank is RR; its mean over queries is MRR).
_LIBRARY_NAMES = {"nDCG@10": "nDCG@10", "MRR@10": "RR@10", "R@100": "R@100"}


@dataclass
class Evaluation:
    """Mean values over all judged queries, and each query's values."""

    means: dict[str, float]
    per_query: dict[str, dict[str, float]]


def evaluate(qrels: Mapping[str, Mapping[str, int]], rankings: Mapping[str, Sequence[str]]) -> Evaluation:
    """The measures of ``rankings`` ({query id: document ids, best first}) against ``qrels``.

    ``qrels`` is {query id: {document id: grade}}; every query in it counts, whether
    ``rankings`` has hits for it or not.
    """
    import ir_measures

    measures = [ir_measures.parse_measure(_LIBRARY_NAMES[name]) for name in MEASURES]
    back = {str(measure): name for measure, name in zip(measures, MEASURES)}
    library_qrels = [ir_measures.Qrel(qid, doc, grade)
                     for qid, docs in qrels.items() for doc, grade in docs.items()]
    run = [ir_measures.ScoredDoc(qid, doc, float(len(ranked) - rank))
           for qid, ranked in rankings.items() if qid in qrels
           for rank, doc in enumerate(dict.fromkeys(ranked))]
    per_query = {qid: dict.fromkeys(MEASURES, 0.0) for qid in qrels}
    if run:
        for metric in ir_measures.iter_calc(measures, library_qrels, run):
            per_query[metric.query_id][back[str(metric.measure)]] = float(metric.value)
    count = len(per_query) or 1
    means = {name: sum(values[name] for values in per_query.values()) / count for name in MEASURES}
    return Evaluation(means, per_query)


def first_relevant_rank(ranked: Sequence[str], relevant: Sequence[str]) -> int | None:
    """1-based rank of the first relevant document in ranked, None when none is there."""
    wanted = set(relevant)
    return next((rank for rank, doc in enumerate(ranked, 1) if doc in wanted), None)
