#!/usr/bin/env python3
"""Reference values for Cohort's charged RDP (discrete Gaussian, integer orders), computed
independently of the Swift code with 60-digit mpmath arithmetic.

Per round, at each integer order a of dp_accounting's default grid:
  q = 1:  a / (2 sigma^2)
  q < 1:  max(add, remove) where
    add    = log( sum_{i=0}^{a} C(a,i) q^i (1-q)^(a-i) exp((i^2-i)/(2 sigma^2)) ) / (a-1)
             (Mironov, Talwar, Zhang 2019, Sec. 3.2; exact for the discrete Gaussian at integer a)
    remove = log( (1-q)^(a-1)(a q - q + 1) + C(a,2) q^2 (1-q)^(a-2) e^{eps(2)}
                  + 3 sum_{l=3}^{a} C(a,l) (1-q)^(a-l) q^l e^{(l-1) eps(l)} ) / (a-1),
             eps(l) = l / (2 sigma^2)   (Zhu & Wang 2019, Thm. 5, the general upper bound)
T rounds add T times the curve; epsilon = min_a [ rdp + log1p(-1/a) - log(delta a)/(a-1) ]
(Canonne, Kamath, Steinke 2020, Prop. 12).
Usage: make_charge_reference.py OUT.csv
"""
import csv
import itertools
import sys

import mpmath as mp

mp.mp.dps = 60
ORDERS = list(range(2, 64)) + [128, 256, 512, 1024]


def curve(q, sigma):
    q = mp.mpf(q)
    s2 = 2 * mp.mpf(sigma) ** 2
    out = []
    for a in ORDERS:
        if q == 1:
            out.append(mp.mpf(a) / s2)
            continue
        add = mp.fsum(mp.binomial(a, i) * q**i * (1 - q) ** (a - i) * mp.e ** ((i * i - i) / s2) for i in range(a + 1))
        rem = (1 - q) ** (a - 1) * (a * q - q + 1) + mp.binomial(a, 2) * q**2 * (1 - q) ** (a - 2) * mp.e ** (2 / s2)
        rem += 3 * mp.fsum(mp.binomial(a, l) * (1 - q) ** (a - l) * q**l * mp.e ** ((l - 1) * l / s2) for l in range(3, a + 1))
        out.append(max(mp.log(add), mp.log(rem)) / (a - 1))
    return out


def epsilon(rdp, delta):
    delta = mp.mpf(delta)
    best = None
    for a, r in zip(ORDERS, rdp):
        e = r + mp.log1p(-mp.mpf(1) / a) - mp.log(delta * a) / (a - 1)
        if best is None or e < best[0]:
            best = (e, a)
    return max(best[0], 0), best[1]


def main(path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sampling_rate", "noise_multiplier", "rounds", "delta", "epsilon", "order"])
        for q, s in itertools.product([0.001, 0.05, 0.3, 1.0], [0.7, 1.1, 3.0]):
            c = curve(q, s)
            for t, d in itertools.product([1, 50, 2000], [1e-5, 1e-8]):
                e, a = epsilon([t * x for x in c], d)
                w.writerow([repr(q), repr(s), t, repr(d), mp.nstr(e, 17), a])


if __name__ == "__main__":
    main(sys.argv[1])
