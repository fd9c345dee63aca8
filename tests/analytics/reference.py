"""A second, independent computation of the metrics in plain Python (no pandas, no numpy).

It follows the README definitions directly, one group at a time, with the ``statistics`` and
``math`` modules; only the t distribution's quantile and tail come from scipy (as scalars).
The tests compare it with the vectorised pandas path to 1e-9 on a random portfolio.
"""

import itertools
import math
import statistics
from collections import defaultdict

from scipy.stats import t as t_distribution

MIN_RESPONDENTS = 3


def numeric(records):
    return [
        r
        for r in records
        if r["question_type"] in ("nps", "rating") and not math.isnan(r["scaled"])
    ]


def group(records, by):
    groups = defaultdict(list)
    for record in records:
        groups[tuple(record[column] for column in by)].append(record)
    return dict(groups)


def score(rows, min_respondents=MIN_RESPONDENTS, confidence=0.95):
    values = [r["scaled"] for r in rows]
    n = len(values)
    respondents = len({r["person_id"] for r in rows})
    mean = statistics.fmean(values)
    if n > 1:
        quantile = t_distribution.ppf((1 + confidence) / 2, n - 1)
        half = quantile * statistics.stdev(values) / math.sqrt(n)
    else:
        half = math.nan
    nps_values = [r["value"] for r in rows if r["question_type"] == "nps"]
    if nps_values:
        promoters = sum(1 for v in nps_values if v >= 9)
        detractors = sum(1 for v in nps_values if v <= 6)
        nps = 100 * (promoters - detractors) / len(nps_values)
    else:
        nps = math.nan
    ok = respondents >= min_respondents and n >= 2
    return {
        "n": n,
        "respondents": respondents,
        "mean": mean if ok else math.nan,
        "ci_low": max(0.0, mean - half) if ok else math.nan,
        "ci_high": min(100.0, mean + half) if ok else math.nan,
        "nps": nps if ok else math.nan,
        "status": "ok" if ok else "insufficient",
    }


def scores(records, by):
    return {key: score(rows) for key, rows in group(numeric(records), by).items()}


def dimension_scores(records, by):
    dimensioned = [r for r in records if r["dimension"] is not None]
    return scores(dimensioned, [*by, "dimension"])


def health_index(records, by, weights=None):
    weights = weights or {}
    dims = dimension_scores(records, by)
    result = {}
    for key, rows in group([r for r in numeric(records) if r["dimension"]], by).items():
        parts = []
        for dimension in sorted({r["dimension"] for r in rows}):
            cell = dims[(*key, dimension)]
            weight = weights.get(dimension, 1.0)
            if cell["status"] == "ok" and weight > 0:
                parts.append((cell["mean"], weight))
        respondents = len({r["person_id"] for r in rows})
        ok = respondents >= MIN_RESPONDENTS and parts
        health = sum(m * w for m, w in parts) / sum(w for _, w in parts) if ok else math.nan
        result[key] = {
            "health": health,
            "respondents": respondents,
            "dimensions": len(parts),
            "status": "ok" if ok else "insufficient",
        }
    return result


def internal_external_gap(records, by, aligned=10, strong=20, high=70):
    dimensioned = [r for r in records if r["dimension"] is not None]
    cells = scores(dimensioned, [*by, "side", "dimension"])
    result = {}
    for key in {(*k[:-2], k[-1]) for k in cells}:
        internal = cells.get((*key[:-1], "internal", key[-1]))
        external = cells.get((*key[:-1], "external", key[-1]))
        both = internal and external and internal["status"] == external["status"] == "ok"
        gap = internal["mean"] - external["mean"] if both else math.nan
        if not both:
            gap_class = quadrant = None
        else:
            size = abs(gap)
            gap_class = "aligned" if size < aligned else "misaligned" if size < strong else "strong"
            gap_class = "strongly_misaligned" if gap_class == "strong" else gap_class
            high_in, high_ex = internal["mean"] >= high, external["mean"] >= high
            quadrant = {
                (True, True): "agreed_strength",
                (False, False): "agreed_weakness",
                (True, False): "blind_spot",
                (False, True): "undervalued_strength",
            }[(high_in, high_ex)]
        result[key] = {
            "internal": internal["mean"] if internal else math.nan,
            "external": external["mean"] if external else math.nan,
            "n_internal": internal["n"] if internal else None,
            "n_external": external["n"] if external else None,
            "gap": gap,
            "gap_class": gap_class,
            "quadrant": quadrant,
        }
    return result


def top_vs_line_gap(records, by):
    cells = scores(records, [*by, "side", "is_top"])
    result = {}
    for key in {k[:-1] for k in cells}:
        top = cells.get((*key, True))
        line = cells.get((*key, False))
        both = top and line and top["status"] == line["status"] == "ok"
        result[key] = {
            "top": top["mean"] if top else math.nan,
            "line": line["mean"] if line else math.nan,
            "gap": top["mean"] - line["mean"] if both else math.nan,
            "n_top": top["n"] if top else None,
            "n_line": line["n"] if line else None,
        }
    return result


def response_rates(invitations, by):
    result = {}
    for key, rows in group([i for i in invitations if i["invited"]], by).items():
        responded = sum(1 for i in rows if i["responded"])
        ok = len(rows) >= MIN_RESPONDENTS
        result[key] = {
            "invited": len(rows),
            "responded": responded,
            "rate": responded / len(rows) if ok else math.nan,
        }
    return result


def welch_p(a, b):
    """Two-sided Welch t-test p-value of two lists of observations."""
    n1, n2 = len(a), len(b)
    v1, v2 = statistics.variance(a) / n1, statistics.variance(b) / n2
    t = (statistics.fmean(a) - statistics.fmean(b)) / math.sqrt(v1 + v2)
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    return 2 * t_distribution.sf(abs(t), df)


def person_means(records, by):
    """key (by + wave_id) -> {person: mean scaled answer}."""
    result = defaultdict(dict)
    for key, rows in group(numeric(records), [*by, "wave_id", "person_id"]).items():
        result[key[:-1]][key[-1]] = statistics.fmean(r["scaled"] for r in rows)
    return dict(result)


def trend(records, by):
    """key (by + wave_id) -> change vs the previous wave of the series and Welch p-value."""
    rows = numeric(records)
    cells = scores(rows, [*by, "wave_id"])
    people = person_means(rows, by)
    wave_at = {r["wave_id"]: r["wave_at"] for r in rows}
    series = defaultdict(list)
    for key in cells:
        series[key[:-1]].append(key[-1])
    result = {}
    for key, waves in series.items():
        waves.sort(key=lambda w: wave_at[w])
        previous = None
        for wave in waves:
            now = cells[(*key, wave)]
            change = p = math.nan
            if previous is not None:
                before = cells[(*key, previous)]
                if now["status"] == before["status"] == "ok":
                    change = now["mean"] - before["mean"]
                    a = list(people[(*key, wave)].values())
                    b = list(people[(*key, previous)].values())
                    if len(a) >= 2 and len(b) >= 2:
                        p = welch_p(a, b)
            result[(*key, wave)] = {"change": change, "p_value": p}
            previous = wave
    return result


def panel_change(records):
    """(program, wave before, wave after) -> n, mean change, paired p-value."""
    rows = numeric(records)
    people = person_means(rows, ["program_id"])
    wave_at = {r["wave_id"]: r["wave_at"] for r in rows}
    programs = defaultdict(set)
    for program, wave in people:
        programs[program].add(wave)
    result = {}
    for program, waves in programs.items():
        ordered = sorted(waves, key=lambda w: wave_at[w])
        for before, after in itertools.pairwise(ordered):
            first, second = people[(program, before)], people[(program, after)]
            changes = [second[p] - first[p] for p in first if p in second]
            n = len(changes)
            ok = n >= MIN_RESPONDENTS
            mean = statistics.fmean(changes) if ok else math.nan
            if ok:
                error = statistics.stdev(changes) / math.sqrt(n)
                p = 2 * t_distribution.sf(abs(mean / error), n - 1)
            else:
                p = math.nan
            result[(program, f"wave-{before}", f"wave-{after}")] = {
                "n": n,
                "change": mean,
                "p_value": p,
            }
    return result
