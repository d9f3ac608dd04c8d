#!/usr/bin/env python3
"""Reference bits of e^(-n/d)·dd/dn for the exact sampler's tests (ExactExpTests).

Writes Tests/CohortPrivacyTests/Fixtures/exp_bits_reference.csv: for each row, the first 256
binary digits of e^(-n/d)·dd/dn as floor(e^(-n/d)·dd/dn·2^256) in hexadecimal, computed with
Python's `decimal` at 200 significant digits (about 660 bits), which `decimal` rounds correctly;
the script checks that no value lies within 2^-144 of a multiple of 2^-256 (except below
2^-256, where the floor is 0), so every floor is certain. Standard
library only; never Cohort's code.
"""
import csv
import decimal
import os
import sys

decimal.getcontext().prec = 200
D = decimal.Decimal
ROWS = [
    # n, d, dn, dd
    (1, 2, 1, 1),
    (1, 1, 1, 1),
    (3, 7, 1, 1),
    (5, 1, 1, 1),
    (355, 113, 1, 1),
    (100, 3, 1, 1),
    (1, 1024, 1, 1),
    (2**60 + 1, 2**58, 1, 1),
    (123456789, 1000, 1, 1),
    (0, 1, 3, 2),
    (1, 2, 3, 2),
    (7, 5, 1000003, 999999),
    (2**100 + 12345, 2**101 - 1, 5, 4),
]


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "CohortPrivacyTests", "Fixtures",
                       "exp_bits_reference.csv")
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["n", "d", "dn", "dd", "bits256_hex"])
        for n, d, dn, dd in ROWS:
            value = (-(D(n) / D(d))).exp() * D(dd) / D(dn) * (D(2) ** 256)
            floor = int(value.to_integral_value(rounding=decimal.ROUND_FLOOR))
            margin = value - D(floor)
            exact = n == 0 and (dd * 2**256) % dn == 0
            if not exact and floor > 0 and not (D(2) ** -144 < margin < 1 - D(2) ** -144):
                sys.exit(f"row {n}/{d}: too close to a multiple of 2^-256 for the floor to be certain")
            assert floor < 2**256, "e^(-x)·dd/dn must be below 1"
            writer.writerow([n, d, dn, dd, format(floor, "x")])


if __name__ == "__main__":
    main()
