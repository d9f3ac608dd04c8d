#!/usr/bin/env python3
"""Reference values for the charge method `mtz-integer-add-symmetric-v2`, computed without
Cohort's code.

The v2 charge of one round at each integer order a of dp_accounting's default grid
(2..63, 128, 256, 512, 1024) is the add-direction RDP of the Poisson-subsampled Gaussian at
integer orders, log(A_a)/(a-1) with
    A_a = sum_{i=0}^{a} C(a,i) q^i (1-q)^(a-i) exp((i^2-i)/(2 sigma^2))
(Mironov, Talwar & Zhang 2019, Sec. 3.2); for q = 1 it is a/(2 sigma^2). docs/PRIVACY.md
("The charge") argues why this curve alone covers both neighbouring directions for the
discrete Gaussian with integer shifts.

Writes three CSV files into OUT_DIR:
  lemma_epsilon_reference.csv  sampling_rate,noise_multiplier,rounds,delta,epsilon,order
      curve from dp_accounting 0.6.0's `_compute_log_a_int` (q = 1: a/(2 sigma^2)), T rounds
      add T times the curve, epsilon and order from dp_accounting's `compute_epsilon`
      restricted to the integer orders.
  lemma_planner_reference.csv  target_epsilon,delta,sampling_rate,rounds,noise_multiplier
      the smallest sigma (bisection to an absolute width of 1e-6, upper end of the bracket) whose
      epsilon as above stays within the target: the demo plan (q 0.2) and the credit plan (q 0.1),
      50 rounds, delta 1e-5, targets 3 and 1, and a few more.
  lemma_rdp_reference.csv      sampling_rate,noise_multiplier,order,rdp
      one-round RDP computed with 80-digit mpmath, for cases where A_a is within 1e-6 of 1
      (tiny q, large sigma) and double-precision log-sum-exp loses digits: the Swift charge must
      match these to 1e-12 relative.

Usage: pip install dp-accounting==0.6.0 mpmath; make_lemma_reference.py OUT_DIR
"""
import csv
import itertools
import math
import os
import sys

import mpmath as mp
from dp_accounting.rdp import rdp_privacy_accountant as rdp_lib

ORDERS = list(range(2, 64)) + [128, 256, 512, 1024]


def curve(q, sigma):
    if q == 1:
        return [a / (2 * sigma * sigma) for a in ORDERS]
    return [rdp_lib._compute_log_a_int(q, sigma, a) / (a - 1) for a in ORDERS]


def epsilon(q, sigma, rounds, delta):
    eps, order = rdp_lib.compute_epsilon(ORDERS, [rounds * r for r in curve(q, sigma)], delta)
    return eps, order


def plan(target, delta, q, rounds):
    low, high = 0.0, 10.0
    while epsilon(q, high, rounds, delta)[0] > target:
        low, high = high, high * 2
    while high - low > 1e-6:
        middle = (low + high) / 2
        if epsilon(q, middle, rounds, delta)[0] > target:
            low = middle
        else:
            high = middle
    return high


def exact_rdp(q, sigma, a):
    mp.mp.dps = 80
    q, s2 = mp.mpf(q), 2 * mp.mpf(sigma) ** 2
    excess = mp.fsum(mp.binomial(a, i) * q**i * (1 - q) ** (a - i) * mp.expm1((i * i - i) / s2) for i in range(2, a + 1))
    return mp.log1p(excess) / (a - 1)


def main(out):
    with open(os.path.join(out, "lemma_epsilon_reference.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sampling_rate", "noise_multiplier", "rounds", "delta", "epsilon", "order"])
        for q, s in itertools.product([0.001, 0.01, 0.1, 0.2, 0.5, 1.0], [0.8, 1.1, 2.4098, 5.0]):
            for t, d in itertools.product([1, 50, 1000], [1e-5, 1e-8]):
                e, a = epsilon(q, s, t, d)
                w.writerow([repr(q), repr(s), t, repr(d), repr(float(e)), a])
    with open(os.path.join(out, "lemma_planner_reference.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["target_epsilon", "delta", "sampling_rate", "rounds", "noise_multiplier"])
        for target, delta, q, rounds in [(3.0, 1e-5, 0.2, 50), (1.0, 1e-5, 0.2, 50), (3.0, 1e-5, 0.1, 50), (1.0, 1e-5, 0.1, 50),
                                         (8.0, 1e-5, 0.01, 1000), (0.5, 1e-6, 0.05, 200)]:
            w.writerow([repr(target), repr(delta), repr(q), rounds, f"{plan(target, delta, q, rounds):.6f}"])
    with open(os.path.join(out, "lemma_rdp_reference.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sampling_rate", "noise_multiplier", "order", "rdp"])
        for q, s in [(1e-6, 1.0), (1e-4, 50.0), (0.01, 1000.0), (0.5, 1e4), (1e-9, 0.5)]:
            for a in [2, 3, 10, 63, 1024]:
                w.writerow([repr(q), repr(s), a, mp.nstr(exact_rdp(q, s, a), 20)])


if __name__ == "__main__":
    main(sys.argv[1])
