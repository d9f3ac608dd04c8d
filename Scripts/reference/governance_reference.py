#!/usr/bin/env python3
"""Independent reference values for the governance gates (CohortGovernance).

Writes Tests/CohortGovernanceTests/Fixtures/governance_reference.json. The anomaly screen's
median/MAD z-scores use numpy; the risk score's data-bias term uses
scipy.spatial.distance.jensenshannon (which returns the Jensen-Shannon *distance*, the square
root of the divergence, so it is squared here). Nothing here calls Cohort code.

    python3 Scripts/reference/governance_reference.py

Formulas (docs/GOVERNANCE.md):
  x_i = pre_clip_norm_i / max(expected_contributions_i, 1e-12)
  m = median(x), MAD = median(|x_i - m|), s = max(1.4826 * MAD, mad_floor * m, 1e-12)
  z_i = (x_i - m) / s; flag "norm" when z_i > norm_z_threshold (needs >= 3 observations),
  flag "direction" when cosine_i < min_cosine (cosine given) and, when three or more cosines are
  given, also cosine_i < median(cosines) - direction_margin.
  R1 = max - min of the metric over participants reporting it (0 with < 2)
  R2 = sum_i n_i JSD2(p_i, P) / sum_i n_i over participants with n_i > 0
  R3 = flagged_or_clipped / contributors (0 with no contributors)
  R = a R1 + b R2 + g R3
"""

import json
import os

import numpy as np
from scipy.spatial.distance import jensenshannon

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "Tests", "CohortGovernanceTests", "Fixtures", "governance_reference.json")


def obs(name, norm, contributions, cosine, clipped=False):
    return {"participant": name, "pre_clip_norm": norm, "expected_contributions": contributions,
            "cosine": cosine, "clipped": clipped}


def anomaly_expected(observations, policy):
    x = np.array([o["pre_clip_norm"] / max(o["expected_contributions"], 1e-12) for o in observations])
    flags = {}
    result = {"norm_test_applied": len(observations) >= 3}
    if result["norm_test_applied"]:
        m = float(np.median(x))
        mad = float(np.median(np.abs(x - m)))
        s = max(1.4826 * mad, policy["mad_floor"] * m, 1e-12)
        z = (x - m) / s
        result.update({"median": m, "mad": mad, "scale": s,
                       "z": {o["participant"]: float(zi) for o, zi in zip(observations, z)}})
        for o, zi in zip(observations, z):
            if zi > policy["norm_z_threshold"]:
                flags.setdefault(o["participant"], []).append("norm")
    cosines = [o["cosine"] for o in observations if o["cosine"] is not None]
    median_cosine = float(np.median(cosines)) if len(cosines) >= 3 else None
    result["median_cosine"] = median_cosine
    for o in observations:
        if o["cosine"] is not None and o["cosine"] < policy["min_cosine"]:
            if median_cosine is None or o["cosine"] < median_cosine - policy["direction_margin"]:
                flags.setdefault(o["participant"], []).append("direction")
    result["flags"] = {k: sorted(v) for k, v in flags.items()}
    result["flagged_or_clipped"] = sum(1 for o in observations if o["clipped"] or o["participant"] in flags)
    return result


DEFAULT_ANOMALY = {"norm_z_threshold": 3.5, "mad_floor": 0.5, "min_cosine": -0.6, "direction_margin": 0.9}

rng = np.random.default_rng(20240605)
honest_rows = [120, 180, 240, 90, 300]
q = 0.2

anomaly_cases = []

# Five honest silos (record unit: norm grows with the expected sample q*rows) and one scaled x10.
honest = [obs(f"h{i}", float(q * r * rng.uniform(0.9, 1.1) * 0.05), q * r, float(rng.uniform(0.2, 0.6)))
          for i, r in enumerate(honest_rows)]
scaled = obs("attacker", float(10 * q * 200 * 0.05), q * 200, 0.4, clipped=True)
anomaly_cases.append({"name": "scaled_update", "policy": DEFAULT_ANOMALY, "observations": honest + [scaled]})

# A sign-flipped update: ordinary norm, opposite direction.
flipped = obs("flipper", float(q * 150 * 0.05), q * 150, -0.93)
anomaly_cases.append({"name": "sign_flipped", "policy": DEFAULT_ANOMALY, "observations": honest + [flipped]})

# First round: no previous update, so no cosine; an odd count.
anomaly_cases.append({"name": "first_round", "policy": DEFAULT_ANOMALY,
                      "observations": [obs(o["participant"], o["pre_clip_norm"], o["expected_contributions"], None)
                                       for o in honest[:3]] + [obs("big", 50.0, q * 100, None)]})

# Fewer than three observations: norm test skipped, direction still applies.
anomaly_cases.append({"name": "two_observations", "policy": DEFAULT_ANOMALY,
                      "observations": [obs("a", 1.0, 1.0, 0.5), obs("b", 100.0, 1.0, -0.9)]})

# Identical norms: MAD = 0, the floor mad_floor*m sets the scale; even count.
anomaly_cases.append({"name": "mad_floor", "policy": {"norm_z_threshold": 2.0, "mad_floor": 0.25, "min_cosine": 0.0,
                                                            "direction_margin": 0.3},
                      "observations": [obs("a", 2.0, 1.0, 0.1), obs("b", 2.0, 1.0, 0.2), obs("c", 2.0, 1.0, 0.05),
                                       obs("d", 3.1, 1.0, -0.01)]})

# Participant unit with random norms and a tight threshold.
participant_unit = [obs(f"p{i}", float(rng.lognormal(0.0, 0.5)), 1.0, float(rng.uniform(-0.3, 0.9)),
                        clipped=bool(i % 3 == 0)) for i in range(9)]
anomaly_cases.append({"name": "participant_unit", "policy": {"norm_z_threshold": 1.5, "mad_floor": 0.05,
                                                             "min_cosine": -0.2, "direction_margin": 0.1},
                      "observations": participant_unit})

# A noisy previous update: every honest cosine is near -0.2, so none stands apart from the
# median; the one silo pointing the other way is not below min_cosine either. Nothing is flagged.
anomaly_cases.append({"name": "noisy_previous_update", "policy": DEFAULT_ANOMALY,
                      "observations": [obs(f"n{i}", 1.0 + 0.05 * i, 1.0, c)
                                       for i, c in enumerate([-0.22, -0.18, -0.25, -0.2, 0.21])]})

# A flipped silo among aligned ones, and a mildly negative honest one that the margin spares.
anomaly_cases.append({"name": "flipped_among_aligned", "policy": DEFAULT_ANOMALY,
                      "observations": [obs("a", 1.0, 1.0, 0.55), obs("b", 1.1, 1.0, 0.5), obs("c", 0.9, 1.0, 0.3),
                                       obs("d", 1.05, 1.0, -0.12), obs("flipper", 1.0, 1.0, -0.75)]})

# mad_floor 0 with identical norms: the scale falls to 1e-12.
anomaly_cases.append({"name": "zero_scale", "policy": {"norm_z_threshold": 3.5, "mad_floor": 0.0, "min_cosine": -1.0,
                                                       "direction_margin": 0.3},
                      "observations": [obs("a", 1.0, 4.0, None), obs("b", 1.0, 4.0, None), obs("c", 1.0, 4.0, None),
                                       obs("d", 1.5, 4.0, None)]})

for case in anomaly_cases:
    case["expected"] = anomaly_expected(case["observations"], case["policy"])


def jsd2(p, q_):
    return float(jensenshannon(p, q_, base=2)) ** 2


def risk_expected(case):
    policy = case["policy"]
    values = [m[policy["metric"]] for m in case["participant_metrics"].values() if policy["metric"] in m]
    r1 = float(max(values) - min(values)) if len(values) >= 2 else 0.0
    counts = [(pos, neg) for pos, neg in case["label_counts"].values() if pos + neg > 0]
    total = sum(pos + neg for pos, neg in counts)
    if total > 0:
        pooled_pos = sum(pos for pos, _ in counts)
        pooled = [pooled_pos / total, (total - pooled_pos) / total]
        r2 = sum((pos + neg) * jsd2([pos / (pos + neg), neg / (pos + neg)], pooled) for pos, neg in counts) / total
    else:
        r2 = 0.0
    r3 = case["flagged_or_clipped"] / case["contributors"] if case["contributors"] > 0 else 0.0
    r = policy["model_bias_weight"] * r1 + policy["data_bias_weight"] * r2 + policy["robustness_weight"] * r3
    return {"r1": r1, "r2": r2, "r3": r3, "r": r, "passed": bool(r <= policy["max"])}


THIRD = {"model_bias_weight": 1 / 3, "data_bias_weight": 1 / 3, "robustness_weight": 1 / 3,
         "metric": "accuracy", "max": 0.5}

risk_cases = [
    {"name": "three_hospitals", "policy": THIRD,
     "participant_metrics": {"a": {"accuracy": 0.95, "roc_auc": 0.99}, "b": {"accuracy": 0.88, "roc_auc": 0.97},
                             "c": {"accuracy": 0.91, "roc_auc": 0.95}},
     "label_counts": {"a": [80, 120], "b": [30, 170], "c": [100, 50]},
     "flagged_or_clipped": 1, "contributors": 3},
    {"name": "single_participant", "policy": THIRD,
     "participant_metrics": {"a": {"accuracy": 0.7}},
     "label_counts": {"a": [10, 30]},
     "flagged_or_clipped": 0, "contributors": 1},
    {"name": "opposite_labels_auc", "policy": {"model_bias_weight": 0.4, "data_bias_weight": 0.3,
                                               "robustness_weight": 0.3, "metric": "roc_auc", "max": 0.5},
     "participant_metrics": {"a": {"accuracy": 0.9, "roc_auc": 0.6}, "b": {"accuracy": 0.8, "roc_auc": 0.9},
                             "c": {"accuracy": 0.85}},
     "label_counts": {"a": [50, 0], "b": [0, 150], "c": [25, 25]},
     "flagged_or_clipped": 2, "contributors": 3},
    {"name": "empty_silo_no_contributors", "policy": {"model_bias_weight": 1.0, "data_bias_weight": 2.0,
                                                      "robustness_weight": 0.5, "metric": "f1", "max": 1.0},
     "participant_metrics": {"a": {"f1": 0.5}, "b": {"f1": 0.75}, "c": {"f1": 0.6}, "d": {"f1": 0.61}},
     "label_counts": {"a": [7, 13], "b": [0, 0], "c": [40, 9], "d": [3, 3]},
     "flagged_or_clipped": 0, "contributors": 0},
    {"name": "identical_distributions", "policy": {"model_bias_weight": 0.0, "data_bias_weight": 1.0,
                                                   "robustness_weight": 0.0, "metric": "recall", "max": 0.0},
     "participant_metrics": {"a": {"recall": 0.5}, "b": {"recall": 0.9}},
     "label_counts": {"a": [10, 30], "b": [20, 60], "c": [1, 3]},
     "flagged_or_clipped": 0, "contributors": 2},
    {"name": "too_risky", "policy": dict(THIRD, max=0.1),
     "participant_metrics": {"a": {"accuracy": 0.95}, "b": {"accuracy": 0.6}},
     "label_counts": {"a": [90, 10], "b": [10, 90]},
     "flagged_or_clipped": 1, "contributors": 2},
]

for case in risk_cases:
    case["expected"] = risk_expected(case)

document = {
    "generator": "Scripts/reference/governance_reference.py",
    "numpy": np.__version__,
    "scipy": __import__("scipy").__version__,
    "anomaly": anomaly_cases,
    "risk": risk_cases,
}

with open(OUT, "w") as handle:
    json.dump(document, handle, indent=1, sort_keys=True)
    handle.write("\n")
print(f"wrote {os.path.normpath(OUT)}: {len(anomaly_cases)} anomaly cases, {len(risk_cases)} risk cases")
