#!/usr/bin/env python3
"""An external Cohort trainer in Python (numpy + safetensors).

cohort-participant runs it once per round with these environment variables:
  COHORT_DATA          data.safetensors: features [n, d-1], labels [n] (float32, already encoded)
  COHORT_GLOBAL_MODEL  global.safetensors: parameters [d] (weights, then bias)
  COHORT_PARAMETERS    parameters.json: unit, sampling_rate, clipping_bound, local_epochs,
                       local_learning_rate, batch_size, round
  COHORT_OUTPUT        where to write update.safetensors with one float32 tensor `update` [d]

Record unit (DP-FedSGD): Poisson-sample the records with rate q, each independently, from the
OS CSPRNG, with an inclusion probability of exactly floor(q * 2**53) / 2**53 <= q (53 random bits
compared with an integer threshold: `random() < q` can include a record with probability above
q); clip each record's gradient, computed in float64, to L2 norm C / (1 + 1e-9), the margin that
keeps the true norm <= C despite the rounding of the computed norm (the Swift participant's
`RecordLevelTraining.normErrorMargin`); and return the float64 sum rounded once to float32.
The records in COHORT_DATA are the participant's training split only; its holdout is never
given to the trainer. Participant unit (DP-FedAvg): E local epochs
of minibatch SGD, return the model delta. The model is logistic regression, like Cohort's
built-in one; replace `gradients` with your own model's per-example gradients.

Usage: cohort-participant ... --trainer "python3 Examples/python-trainer/train.py"
Requires: pip install numpy safetensors
"""
import json
import math
import os
import secrets

import numpy as np
from safetensors.numpy import load_file, save_file


def gradients(params, features, labels):
    """Per-example gradients of the logistic loss, shape [n, d]."""
    logits = features @ params[:-1] + params[-1]
    residual = 1.0 / (1.0 + np.exp(-logits)) - labels
    return np.hstack([features * residual[:, None], residual[:, None]])


# The relative margin under C that each clipped gradient keeps (RecordLevelTraining.normErrorMargin).
NORM_ERROR_MARGIN = 1e-9


def poisson_sample(n, q):
    """Indices of a Poisson sample of n records: each included independently with probability
    floor(q * 2**53) / 2**53, never above q, from the OS CSPRNG."""
    if not (0.0 < q <= 1.0):
        raise ValueError(f"sampling rate q must lie in (0, 1], got {q}")
    threshold = math.floor(q * 2**53)  # exact: q * 2**53 is a float64 product by a power of two
    return np.array([i for i in range(n) if secrets.randbits(53) < threshold], dtype=np.int64)


def clip_rows(grads, clip):
    """Scales each row of grads (float64) to L2 norm <= clip / (1 + 1e-9)."""
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"clipping bound C must be finite and > 0, got {clip}")
    target = clip / (1.0 + NORM_ERROR_MARGIN)
    norms = np.sqrt(np.sum(grads * grads, axis=1))
    factors = np.where(norms > target, target / np.where(norms > 0, norms, 1.0), 1.0)
    return grads * factors[:, None]


def record_unit(params, features, labels, q, clip):
    chosen = poisson_sample(len(labels), q)
    if chosen.size == 0:
        return np.zeros_like(params)
    grads = clip_rows(gradients(params, features[chosen], labels[chosen]), clip)
    return grads.sum(axis=0)


def participant_unit(params, features, labels, epochs, lr, batch):
    local = params.copy()
    rng = np.random.default_rng()
    for _ in range(epochs):
        order = rng.permutation(len(labels))
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            local -= lr * gradients(local, features[idx], labels[idx]).mean(axis=0)
    return local - params


def main():
    data = load_file(os.environ["COHORT_DATA"])
    features = data["features"].astype(np.float64)
    labels = data["labels"].astype(np.float64)
    params = load_file(os.environ["COHORT_GLOBAL_MODEL"])["parameters"].astype(np.float64)
    with open(os.environ["COHORT_PARAMETERS"]) as f:
        p = json.load(f)
    if p["unit"] == "record":
        update = record_unit(params, features, labels, p["sampling_rate"], p["clipping_bound"])
    else:
        update = participant_unit(params, features, labels, p["local_epochs"], p["local_learning_rate"], p["batch_size"])
    save_file({"update": update.astype(np.float32)}, os.environ["COHORT_OUTPUT"])


if __name__ == "__main__":
    main()
