#!/usr/bin/env python3
"""An external Cohort trainer in Python (numpy + safetensors).

cohort-participant runs it once per round with these environment variables:
  COHORT_DATA          data.safetensors: features [n, d-1], labels [n] (float32, already encoded)
  COHORT_GLOBAL_MODEL  global.safetensors: parameters [d] (weights, then bias)
  COHORT_PARAMETERS    parameters.json: unit, sampling_rate, clipping_bound, local_epochs,
                       local_learning_rate, batch_size, round
  COHORT_OUTPUT        where to write update.safetensors with one float32 tensor `update` [d]

Record unit (DP-FedSGD): Poisson-sample records with rate q (from the OS CSPRNG), clip each
record's gradient to L2 norm C, and return the sum. Participant unit (DP-FedAvg): E local epochs
of minibatch SGD, return the model delta. The model is logistic regression, like Cohort's
built-in one; replace `gradients` with your own model's per-example gradients.

Usage: cohort-participant ... --trainer "python3 Examples/python-trainer/train.py"
Requires: pip install numpy safetensors
"""
import json
import os
import secrets

import numpy as np
from safetensors.numpy import load_file, save_file


def gradients(params, features, labels):
    """Per-example gradients of the logistic loss, shape [n, d]."""
    logits = features @ params[:-1] + params[-1]
    residual = 1.0 / (1.0 + np.exp(-logits)) - labels
    return np.hstack([features * residual[:, None], residual[:, None]])


def record_unit(params, features, labels, q, clip):
    rng = secrets.SystemRandom()
    chosen = np.array([rng.random() < q for _ in range(len(labels))], dtype=bool)
    if not chosen.any():
        return np.zeros_like(params)
    grads = gradients(params, features[chosen], labels[chosen])
    norms = np.linalg.norm(grads, axis=1)
    grads *= np.minimum(1.0, clip / np.maximum(norms, 1e-12))[:, None]
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
