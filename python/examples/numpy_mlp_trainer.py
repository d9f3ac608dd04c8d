#!/usr/bin/env python3
"""A one-hidden-layer MLP trainer for Cohort in numpy (trainer contract 2, docs/TRAINER.md).

The policy declares the model as `kind: external` with these tensors (F encoded features, H
hidden tanh units; PyTorch nn.Linear naming, so a state_dict loads them):

    tensors:
      - {name: layers.0.weight, shape: [H, F]}
      - {name: layers.0.bias,   shape: [H]}
      - {name: layers.1.weight, shape: [1, H]}
      - {name: layers.1.bias,   shape: [1]}

Run by cohort-participant: --trainer "python3 python/examples/numpy_mlp_trainer.py" --trainer-evaluates
Requires: pip install ./python   (numpy, safetensors)
"""
import sys

import numpy as np

from cohort_trainer import Round, clip_rows, poisson_sample

NAMES = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]


def forward(p, x):
    hidden = np.tanh(x @ p["layers.0.weight"].T + p["layers.0.bias"])
    return hidden, hidden @ p["layers.1.weight"][0] + p["layers.1.bias"][0]


def per_record_gradients(p, x, y):
    """Per-record log-loss gradients, flattened in the model's tensor order: [batch, d]."""
    hidden, logits = forward(p, x)
    residual = 1.0 / (1.0 + np.exp(-logits)) - y                    # dL/dz
    g_w1 = residual[:, None] * hidden                               # [b, H]  -> layers.1.weight [1, H]
    g_b1 = residual[:, None]                                        # [b, 1]
    delta = residual[:, None] * p["layers.1.weight"][0][None, :] * (1 - hidden**2)   # [b, H]
    g_w0 = delta[:, :, None] * x[:, None, :]                        # [b, H, F]
    g_b0 = delta                                                    # [b, H]
    b = x.shape[0]
    return np.hstack([g_w0.reshape(b, -1), g_b0, g_w1, g_b1])


def unflatten(flat, p):
    out, start = {}, 0
    for name in NAMES:
        size = p[name].size
        out[name] = flat[start:start + size].reshape(p[name].shape)
        start += size
    return out


def main():
    rnd = Round()
    if rnd.tensor_names != NAMES:
        sys.exit(f"this trainer trains tensors {NAMES}; the policy declares {rnd.tensor_names}")
    p = {name: rnd.model[name].astype(np.float64) for name in NAMES}
    if rnd.task == "evaluate":
        rnd.write_scores(forward(p, rnd.holdout_features)[1])
        return
    params = rnd.parameters
    if params["unit"] == "record":
        chosen = poisson_sample(len(rnd.labels), params["sampling_rate"])
        if chosen.size == 0:
            total = np.zeros(sum(p[n].size for n in NAMES))
        else:
            grads = per_record_gradients(p, rnd.features[chosen], rnd.labels[chosen])
            total = clip_rows(grads, params["clipping_bound"]).sum(axis=0)
        rnd.write_update(unflatten(total, p), batch_size=chosen.size)
    else:
        local = {n: v.copy() for n, v in p.items()}
        rng = np.random.default_rng()
        for _ in range(params["local_epochs"]):
            order = rng.permutation(len(rnd.labels))
            for start in range(0, len(order), params["batch_size"]):
                idx = order[start:start + params["batch_size"]]
                step = unflatten(per_record_gradients(local, rnd.features[idx], rnd.labels[idx]).mean(axis=0), local)
                for n in NAMES:
                    local[n] -= params["local_learning_rate"] * step[n]
        rnd.write_update({n: local[n] - p[n] for n in NAMES})


if __name__ == "__main__":
    main()
