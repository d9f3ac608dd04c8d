#!/usr/bin/env python3
"""Independent verifier for a Cohort privacy ledger (docs/LEDGER.md, sections 3, 4, 6 and 6.1).

Usage:
    python3 Scripts/verify_ledger.py STATE/ledger.jsonl KEYFILE

KEYFILE is the coordinator's ledger public key, one line `cohort-key v1 ed25519-public <base64>`.
Prints `OK: ...` and exits 0 when the ledger verifies; otherwise prints
`<code>: line <n> (seq <s>): <what>` for the first failing line and exits 1.
Needs Python 3 (run with 3.11) and `cryptography` (pip install cryptography); nothing else.

Checked: strict JSON and RFC 8785 canonical form, the envelope, sequence, hash chain, time order,
genesis (first and only once, key, accountant), every Ed25519 signature, the cap in force, and for
each round.charged: delta, sensitivity >= C + gamma*sqrt(d), the frozen plan of its round.opened
(when there is one), and round_epsilon, cumulative_epsilon and cumulative_order recomputed with the
entry's charge_method (absent: mtz-add-zhu-wang-remove-v1) to 1e-9 relative, cumulative epsilon
non-decreasing and within the cap, and equal to the projection of the passing budget decision a
planned round.opened must follow (with no failed refusal gate before it); a
round.refused's projection when it records q and sigma; the participant unit's commitments
(sample_commitment, contributors_commitment; sample counts only in older ledgers); the metric names
and ranges of round.closed and evaluation.recorded, or their evaluation_sha256 commitment.
Not checked (a sketch): the other per-kind field rules and the round life cycle (step 8).
"""
import base64, hashlib, json, math, re, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ACCOUNTANT = "discrete-gaussian-charge/v1"
ORDERS = list(range(2, 64)) + [128, 256, 512, 1024]
TOLERANCE = 1e-9

def log_sum_exp(terms):
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))

def log_binomial(n, k):
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

V1, V2 = "mtz-add-zhu-wang-remove-v1", "mtz-integer-add-symmetric-v2"
PLAN_FIELDS = ("unit", "sampling_rate", "noise_multiplier", "clipping_bound", "grid_step", "sensitivity", "dimension", "delta")
RATIOS = {"accuracy", "precision", "recall", "f1", "roc_auc"}
# Holdout log-loss, probabilities clamped to [1e-15, 1 - 1e-15]: at most -ln(1e-15) (docs/LEDGER.md).
MAX_LOSS = 34.538776394910684


def metric_ok(name, value):
    if name in RATIOS: return 0 <= value <= 1
    if name == "count": return value >= 0 and value == int(value)
    if name == "loss": return 0 <= value <= MAX_LOSS * (1 + 1e-9)
    return False

def log_expm1(x):
    return x + math.log1p(-math.exp(-x)) if x > 1 else math.log(math.expm1(x))

def charge_curve(q, sigma, method=V1):
    if method == V2:
        return charge_curve_v2(q, sigma)
    return charge_curve_v1(q, sigma)

def charge_curve_v2(q, sigma):
    """mtz-integer-add-symmetric-v2: the add term alone, log1p of the non-negative excess A - 1."""
    s2 = 2 * math.nextafter(sigma * sigma, 0)   # sigma^2 rounded down, as the charge takes it
    if q == 1:
        return [a / s2 for a in ORDERS]
    log_q, log_1mq = math.log(q), math.log1p(-q)
    curve = []
    for a in ORDERS:
        # Mironov, Talwar & Zhang 2019, Sec. 3.2: A - 1 = sum_{i>=2} C(a,i) q^i (1-q)^(a-i) expm1((i^2-i)/(2 sigma^2))
        excess = log_sum_exp([log_binomial(a, i) + i * log_q + (a - i) * log_1mq + log_expm1((i * i - i) / s2)
                              for i in range(2, a + 1)])
        curve.append((excess + math.log1p(math.exp(-excess)) if excess > 0 else math.log1p(math.exp(excess))) / (a - 1))
    return curve

def charge_curve_v1(q, sigma):
    """mtz-add-zhu-wang-remove-v1: max(add, remove) per order; a/(2 sigma^2) when q = 1."""
    s2 = 2 * sigma * sigma
    if q == 1:
        return [a / s2 for a in ORDERS]
    log_q, log_1mq = math.log(q), math.log1p(-q)
    curve = []
    for a in ORDERS:
        # add: Mironov, Talwar & Zhang 2019, Sec. 3.2 (A_alpha at integer alpha)
        add = log_sum_exp([log_binomial(a, i) + i * log_q + (a - i) * log_1mq + (i * i - i) / s2
                           for i in range(a + 1)])
        # remove: Zhu & Wang 2019, Thm. 5 (general upper bound), with eps(l) = l / (2 sigma^2)
        remove = log_sum_exp(
            [(a - 1) * log_1mq + math.log(a * q - q + 1),
             log_binomial(a, 2) + 2 * log_q + (a - 2) * log_1mq + 2 / s2]
            + [math.log(3) + log_binomial(a, l) + (a - l) * log_1mq + l * log_q + (l - 1) * l / s2
               for l in range(3, a + 1)])
        curve.append(max(add, remove) / (a - 1))
    return curve

def epsilon(orders, rdp, delta):
    """(epsilon, order): Canonne, Kamath & Steinke 2020, Prop. 12; first minimum; floored at 0."""
    best = None
    for a, r in zip(orders, rdp):
        if r < 0 or delta * delta + math.expm1(-r) > 0:
            candidate = 0.0  # divergence already below delta (as dp_accounting does)
        else:
            candidate = r + math.log1p(-1 / a) - math.log(delta * a) / (a - 1)
        if best is None or candidate < best[0]:
            best = (candidate, a)
    return max(0.0, best[0]), best[1]

def es_number(x):  # ECMAScript Number.prototype.toString, as RFC 8785 requires
    if x != x or x in (float("inf"), float("-inf")): raise ValueError("not finite")
    if x == 0: return "0"
    if x < 0: return "-" + es_number(-x)
    mantissa, _, exp = repr(x).partition("e")       # repr gives the shortest round-trip digits
    int_part, _, frac = mantissa.partition(".")
    digits, n = int_part + frac, len(int_part) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0"); n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0"); k = len(digits)
    if k <= n <= 21: return digits + "0" * (n - k)
    if 0 < n <= 21: return digits[:n] + "." + digits[n:]
    if -6 < n <= 0: return "0." + "0" * -n + digits
    e = n - 1
    return digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e > 0 else "-") + str(abs(e))

def canon(v):  # RFC 8785
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, (int, float)): return es_number(float(v))
    if isinstance(v, str): return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list): return "[" + ",".join(canon(x) for x in v) + "]"
    keys = sorted(v, key=lambda s: s.encode("utf-16-be"))
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(v[k]) for k in keys) + "}"

def no_duplicates(pairs):
    if len({k for k, _ in pairs}) != len(pairs): raise ValueError("duplicate member name")
    return dict(pairs)

def reject_constant(name): raise ValueError(name + " is not JSON")

def close(a, b): return a == b or abs(a - b) <= TOLERANCE * max(abs(a), abs(b))

def is_int(x): return isinstance(x, int) and not isinstance(x, bool)

TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\Z")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
# Inputs a gate.decision committing to the gate-input store (inputs_sha256) must not carry (docs/LEDGER.md).
EXACT_GATE_INPUTS = {
    "data_quality": {"rows", "missing_rate", "worst_column_missing_rate", "positive", "negative", "reasons"},
    "anomaly": {"median", "mad", "scale", "z", "cosine", "median_cosine", "flagged_or_clipped"},
    "risk": {"r", "r1", "r2", "r3", "flagged_or_clipped"},
    "evaluation": {"aggregate", "participant_accuracy"},
}

class Failure(Exception):
    pass

def verify(ledger_path, key_path):
    magic, version, key_kind, key_b64 = open(key_path).read().split(" ")
    assert (magic, version, key_kind) == ("cohort-key", "v1", "ed25519-public"), "not a cohort ed25519-public key file"
    key_b64 = key_b64.rstrip("\n")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64, validate=True))
    data = open(ledger_path, "rb").read()
    *lines, tail = data.split(b"\n")                # tail is b"" unless the last line is torn
    if not lines: raise Failure("ledger.torn_tail: line 1: incomplete" if tail else "ledger.empty: no entries")
    prev, last_time, cap, delta = "0" * 64, "", None, None
    rdp, rdp_cache, last_recorded, charges, worst = [0.0] * len(ORDERS), {}, 0.0, 0, 0.0
    plans = {}                                      # round -> the plan its round.opened froze
    pre_round = {}                                  # round -> gate -> (passed, projected_epsilon) before it opened
    projections = {}                                # planned round -> its budget decision's projected_epsilon
    committed = set()                               # participant-unit rounds that committed to their sample
    first_planned = first_committed = None          # the first round with a plan / a sample commitment
    opened_rounds = set()
    for number, line in enumerate(lines, start=1):
        seq = None
        def fail(code, what):
            raise Failure(f"{code}: line {number}" + (f" (seq {seq})" if seq is not None else "") + f": {what}")
        try:
            entry = json.loads(line.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=reject_constant)
            canonical = canon(entry).encode("utf-8")  # raises on lone surrogates and non-finite numbers
        except (ValueError, TypeError, AttributeError, UnicodeError) as error:
            fail("ledger.bad_json", str(error))
        if canonical != line: fail("ledger.not_canonical", "not byte-identical to its RFC 8785 form")
        if not isinstance(entry, dict) or set(entry) != {"v", "seq", "time", "kind", "prev", "data", "sig"}:
            fail("ledger.bad_entry", "the envelope must have exactly v, seq, time, kind, prev, data, sig")
        if is_int(entry["seq"]) and entry["seq"] >= 0: seq = entry["seq"]
        if not (is_int(entry["v"]) and seq is not None and isinstance(entry["time"], str) and TIME.match(entry["time"])
                and isinstance(entry["kind"], str) and entry["kind"] and isinstance(entry["prev"], str)
                and HEX64.match(entry["prev"]) and isinstance(entry["data"], dict) and isinstance(entry["sig"], str)):
            fail("ledger.bad_entry", "envelope member of the wrong type or form")
        if entry["v"] != 1: fail("ledger.unsupported_version", f"v {entry['v']}")
        try: signature = base64.b64decode(entry["sig"], validate=True)
        except ValueError: signature = b""
        if len(signature) != 64: fail("ledger.bad_entry", "sig is not Base64 of 64 bytes")
        if seq != number - 1: fail("ledger.sequence_gap", f"expected seq {number - 1}")
        if entry["prev"] != prev: fail("ledger.chain_broken", f"prev is not the SHA-256 of line {number - 1}")
        if entry["time"] < last_time: fail("ledger.time_regressed", f"{entry['time']} < {last_time}")
        d, kind = entry["data"], entry["kind"]
        if (number == 1) != (kind == "genesis"): fail("ledger.bad_genesis", "genesis must be the first entry, and only it")
        if number == 1 and d.get("ledger_public_key") != key_b64: fail("ledger.wrong_key", "genesis key is not the given key")
        del entry["sig"]
        try: key.verify(signature, canon(entry).encode("utf-8"))
        except Exception: fail("ledger.bad_signature", "Ed25519 signature does not verify")
        try:
            if kind == "genesis":
                if d["accountant"] != ACCOUNTANT: fail("ledger.bad_genesis", f"accountant {d['accountant']!r} is not {ACCOUNTANT}")
                cap, delta = d["epsilon_max"], d["delta"]
            elif kind == "policy.adopted":
                if d["old_epsilon_max"] != cap: fail("ledger.bad_entry", "old_epsilon_max is not the cap in force")
                cap = d["new_epsilon_max"]
            if kind == "round.opened":
                # No downgrade: once a round froze a plan (or committed to its sample), every
                # later round must (every later participant-unit round must commit).
                if first_planned is not None and "plan" not in d:
                    fail("ledger.bad_entry", f"round {d['round']} opened without a plan after round {first_planned} had one")
                if first_committed is not None and d.get("plan", {}).get("unit") == "participant" and "sample_commitment" not in d:
                    fail("ledger.bad_entry", f"participant-unit round {d['round']} names its sample after round {first_committed} committed")
                if "plan" in d and first_planned is None: first_planned = d["round"]
                if "sample_commitment" in d and first_committed is None: first_committed = d["round"]
            if kind == "round.opened" and "plan" in d:
                p = d["plan"]
                if p["charge_method"] not in (V1, V2): fail("ledger.bad_entry", f"plan.charge_method {p['charge_method']!r}")
                if p["unit"] == "participant" and p["records"] != 0: fail("ledger.bad_entry", "plan.records must be 0 for the participant unit")
                if p["delta"] != delta: fail("ledger.plan_mismatch", "plan.delta differs from the genesis delta")
                floor = p["clipping_bound"] + p["grid_step"] * math.sqrt(p["dimension"])
                if p["unit"] == "record": floor += 2.0 ** -23 * p["records"] * p["clipping_bound"]
                floor += 1e-6 * p["clipping_bound"]         # the explicit margin every plan carries
                if p["sensitivity"] < floor * (1 - 1e-12): fail("ledger.sensitivity_mismatch", "plan.sensitivity below its floor")
                plans[d["round"]] = p
                # A planned round opens only after a passing budget decision, and no
                # failed refusal gate, for that round; its charge must equal the budget projection.
                gates = pre_round.pop(d["round"], {})
                for gate in sorted(gates):
                    if gate in ("model_version", "budget", "quorum") and not gates[gate][0]:
                        fail("ledger.round_order", f"round {d['round']} opened after its {gate} gate failed")
                if "budget" not in gates: fail("ledger.round_order", f"round {d['round']} opened without a passing budget gate decision")
                if gates["budget"][1] is None: fail("ledger.round_order", "the budget decision states no projected_epsilon")
                projections[d["round"]] = gates["budget"][1]
                if "sample_commitment" in d:
                    if p["unit"] != "participant" or "participants_sampled" in d or not HEX64.match(d["sample_commitment"]):
                        fail("ledger.bad_entry", "sample_commitment: participant unit only, a SHA-256, without participants_sampled")
                    committed.add(d["round"])
            elif kind == "round.opened" and "participants_sampled" not in d:
                fail("ledger.bad_entry", "round.opened: missing participants_sampled")
            elif kind == "gate.decision" and d["round"] not in opened_rounds:
                pre_round.setdefault(d["round"], {})[d["gate"]] = (d["passed"], d["inputs"].get("projected_epsilon"))
            elif kind == "round.charged":
                q, sigma = d["sampling_rate"], d["noise_multiplier"]
                method = d.get("charge_method", V1)
                if method not in (V1, V2): fail("ledger.bad_entry", f"unknown charge_method {method!r}")
                if d["delta"] != delta: fail("ledger.bad_entry", "delta differs from the genesis delta")
                if not (0 < q <= 1 and sigma > 0): fail("ledger.bad_entry", "need q in (0, 1] and sigma > 0")
                if d["sensitivity"] < (d["clipping_bound"] + d["grid_step"] * math.sqrt(d["dimension"])) * (1 - 1e-12):
                    fail("ledger.sensitivity_mismatch", "sensitivity below C + gamma*sqrt(d)")
                plan = plans.get(d["round"])
                if plan is not None:
                    differing = [f for f in PLAN_FIELDS if d[f] != plan[f]] + (["charge_method"] if method != plan["charge_method"] else [])
                    if differing: fail("ledger.plan_mismatch", "differs from its plan in " + ", ".join(differing))
                if "contributors_commitment" in d:
                    if d["unit"] != "participant" or "contributors" in d or "update_digests" in d or not HEX64.match(d["contributors_commitment"]):
                        fail("ledger.bad_entry", "contributors_commitment: participant unit only, a SHA-256, without contributors and update_digests")
                elif d["round"] in committed:
                    fail("ledger.bad_entry", "a round that committed to its sample must commit to its contributors")
                else:
                    names = d["contributors"]
                    if len(set(names)) != len(names) or set(names) != set(d["update_digests"]):
                        fail("ledger.bad_entry", "one update digest per contributor")
                if d["round"] in projections and not close(d["cumulative_epsilon"], projections[d["round"]]):
                    fail("ledger.epsilon_mismatch", f"cumulative_epsilon {d['cumulative_epsilon']} differs from the budget projection {projections[d['round']]}")
                if (q, sigma, method) not in rdp_cache: rdp_cache[(q, sigma, method)] = charge_curve(q, sigma, method)
                curve = rdp_cache[(q, sigma, method)]
                total = [a + b for a, b in zip(rdp, curve)]
                round_eps = epsilon(ORDERS, curve, delta)[0]
                cumulative, order = epsilon(ORDERS, total, delta)
                if not close(d["round_epsilon"], round_eps): fail("ledger.epsilon_mismatch", f"round_epsilon {d['round_epsilon']} vs recomputed {round_eps}")
                if not close(d["cumulative_epsilon"], cumulative): fail("ledger.epsilon_mismatch", f"cumulative_epsilon {d['cumulative_epsilon']} vs recomputed {cumulative}")
                at = ORDERS.index(d["cumulative_order"]) if d["cumulative_order"] in ORDERS else None
                if at is None or not close(epsilon([ORDERS[at]], [total[at]], delta)[0], d["cumulative_epsilon"]):
                    fail("ledger.epsilon_mismatch", f"cumulative_order {d['cumulative_order']} does not attain it (recomputed order {order})")
                if d["cumulative_epsilon"] < last_recorded: fail("ledger.epsilon_decreased", f"below the previous {last_recorded}")
                if max(d["cumulative_epsilon"], cumulative) > cap: fail("ledger.budget_exceeded", f"{max(d['cumulative_epsilon'], cumulative)} > cap {cap}")
                for recorded, recomputed in ((d["round_epsilon"], round_eps), (d["cumulative_epsilon"], cumulative)):
                    if recorded != recomputed: worst = max(worst, abs(recorded - recomputed) / max(abs(recorded), abs(recomputed)))
                rdp, last_recorded, charges = total, d["cumulative_epsilon"], charges + 1
                last_charge = (cumulative, order, d["cumulative_epsilon"], d["cumulative_order"])
            elif kind == "round.refused" and ("sampling_rate" in d or "noise_multiplier" in d or "charge_method" in d):
                method = d["charge_method"]
                if method not in (V1, V2): fail("ledger.bad_entry", f"unknown charge_method {method!r}")
                projected = epsilon(ORDERS, [a + b for a, b in zip(rdp, charge_curve(d["sampling_rate"], d["noise_multiplier"], method))], delta)[0]
                if not close(d["projected_epsilon"], projected): fail("ledger.epsilon_mismatch", f"projected_epsilon {d['projected_epsilon']} vs recomputed {projected}")
            if kind in ("round.closed", "round.aborted"):
                # Counts: only in a round that committed to its sample, and only as ledgers written before
                # they were withheld did (current coordinators record none); always both or neither.
                if ("participants_sampled" in d) != ("contributors_count" in d) or ("participants_sampled" in d and d["round"] not in committed):
                    fail("ledger.bad_entry", f"{kind}: participants_sampled and contributors_count together, and only in a round that committed to its sample")
            if kind == "gate.decision" and "inputs_sha256" in d:
                # The exact record-derived inputs stay in the coordinator's gate-input store.
                exact = EXACT_GATE_INPUTS.get(d["gate"], set())
                keys = set(d["inputs"]) | {k for v in (d["inputs"].get("participants") or {}).values()
                                           if isinstance(v, dict) for k in v}
                if not isinstance(d["inputs_sha256"], str) or not HEX64.match(d["inputs_sha256"]) or exact & keys:
                    fail("ledger.bad_entry", f"gate.decision {d['gate']}: inputs_sha256 is a SHA-256 and replaces the exact inputs")
            if kind == "round.opened": opened_rounds.add(d["round"])
            elif kind == "round.refused": pre_round.pop(d["round"], None)
            if kind in ("round.closed", "evaluation.recorded") and "evaluation_sha256" in d:
                # New entries commit to the coordinator's evaluation store; the metrics are not here.
                if not HEX64.match(d["evaluation_sha256"]) or {"metrics", "aggregate", "participants"} & set(d):
                    fail("ledger.bad_entry", f"{kind}: evaluation_sha256 is a SHA-256 and replaces the metrics")
                if kind == "evaluation.recorded" and not (is_int(d["participants_evaluated"]) and d["participants_evaluated"] >= 0):
                    fail("ledger.bad_entry", "evaluation.recorded: participants_evaluated must be an integer >= 0")
            elif kind in ("round.closed", "evaluation.recorded"):
                groups = [d["metrics"]] if kind == "round.closed" else [d["aggregate"]] + list(d["participants"].values())
                for metrics in groups:
                    for name, value in metrics.items():
                        if not metric_ok(name, value):
                            fail("ledger.bad_entry", f"{kind}: metric {name} = {value} is not a known metric in range")
        except (KeyError, TypeError) as error:
            fail("ledger.bad_entry", f"{kind}: missing or mistyped field {error}")
        prev, last_time = hashlib.sha256(line).hexdigest(), entry["time"]
    if tail: raise Failure(f"ledger.torn_tail: line {len(lines) + 1}: last line has no newline ({len(tail)} bytes)")
    summary = f"OK: {len(lines)} entries, {charges} charges; last hash {prev}"
    if charges:
        summary += (f"; cumulative epsilon {last_charge[0]!r} at order {last_charge[1]} (recorded {last_charge[2]!r} "
                    f"at {last_charge[3]!r}); largest relative difference {worst:.3g}")
    return summary

if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    try: print(verify(sys.argv[1], sys.argv[2]))
    except Failure as failure: sys.exit(str(failure))
