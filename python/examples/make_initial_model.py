#!/usr/bin/env python3
"""Writes a seeded initial model for numpy_mlp_trainer.py: python3 make_initial_model.py OUT F H SEED."""
import sys

import numpy as np
from safetensors.numpy import save_file

out, features, hidden, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
limit0 = np.sqrt(6 / (features + hidden))
limit1 = np.sqrt(6 / (hidden + 1))
save_file({
    "layers.0.weight": rng.uniform(-limit0, limit0, (hidden, features)).astype(np.float32),
    "layers.0.bias": np.zeros(hidden, dtype=np.float32),
    "layers.1.weight": rng.uniform(-limit1, limit1, (1, hidden)).astype(np.float32),
    "layers.1.bias": np.zeros(1, dtype=np.float32),
}, out)
