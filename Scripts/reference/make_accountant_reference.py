#!/usr/bin/env python3
"""Extends the accountant reference with Google's dp_accounting (pip install dp-accounting==0.6.0).

Writes two CSV files to the directory given as the first argument:
  accountant_grid.csv         epsilon of T identical Poisson-subsampled Gaussian rounds
  accountant_heterogeneous.csv epsilon after a sequence of rounds with different (q, sigma)
These are test fixtures: the Swift accountant must match them to 1e-6 relative.
"""
import csv
import itertools
import logging
import sys

import dp_accounting
from dp_accounting.rdp import RdpAccountant

logging.disable(logging.WARNING)


def epsilon(rounds, delta):
    acc = RdpAccountant()
    for q, sigma, count in rounds:
        ev = dp_accounting.GaussianDpEvent(sigma)
        if q < 1:
            ev = dp_accounting.PoissonSampledDpEvent(q, ev)
        acc.compose(ev, count)
    return acc.get_epsilon_and_optimal_order(delta)


def main(out):
    qs = [1e-4, 0.001, 0.01, 0.03, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0]
    sigmas = [0.3, 0.5, 0.7, 1.0, 1.3, 2.0, 4.0, 10.0, 50.0]
    ts = [1, 7, 100, 2500, 100000]
    deltas = [1e-8, 1e-5, 1e-3]
    with open(f"{out}/accountant_grid.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sampling_rate", "noise_multiplier", "rounds", "delta", "epsilon", "order"])
        for q, s, t, d in itertools.product(qs, sigmas, ts, deltas):
            eps, order = epsilon([(q, s, t)], d)
            w.writerow([repr(q), repr(s), t, repr(d), repr(float(eps)), repr(float(order))])
    sequences = [
        [(0.1, 1.0, 50), (0.05, 2.0, 100)],
        [(0.01, 0.8, 1000), (0.02, 1.1, 500), (1.0, 5.0, 3)],
        [(0.3, 3.0, 10), (0.3, 1.5, 10), (0.6, 4.0, 2)],
        [(1.0, 2.0, 4), (0.5, 0.9, 1)],
        [(0.001, 0.6, 10000), (0.002, 0.7, 10000)],
    ]
    with open(f"{out}/accountant_heterogeneous.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rounds", "delta", "epsilon", "order"])
        for seq, d in itertools.product(sequences, [1e-5, 1e-7]):
            eps, order = epsilon(seq, d)
            spec = ";".join(f"{q!r}:{s!r}:{c}" for q, s, c in seq)
            w.writerow([spec, repr(d), repr(float(eps)), repr(float(order))])


if __name__ == "__main__":
    main(sys.argv[1])
