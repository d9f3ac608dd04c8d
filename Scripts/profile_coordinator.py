#!/usr/bin/env python3
"""Where the coordinator's CPU goes during `cohort-bench round`, from a system-wide `perf` sample.

    perf record -F 997 -g -a -o /tmp/round.perf -- \\
        .build/release/cohort-bench round --participants 8 --parameters 1000000 --rounds 10 \\
        --repeats 1 --noise-only --no-reference
    perf script -i /tmp/round.perf -F pid,ip,sym,dso > /tmp/round.txt
    python3 Scripts/profile_coordinator.py /tmp/round.txt

The coordinator is the process whose stacks most often pass through CohortCoordinator (the
participants run `cohort-bench-participant`). Each of its samples is put in the first category
whose test matches its leaf frame or call chain, in the order below, so a SHA-256 block called
while verifying an update counts once, as "SHA-256 of updates". The figures are shares of the
coordinator's samples over the whole run (set-up and TLS handshakes included, a few percent).
"""
import collections
import re
import sys


def read_samples(path):
    """(pid, [frames, leaf first]) per sample of `perf script -F pid,ip,sym,dso`."""
    samples, current = [], None
    with open(path, errors="replace") as handle:
        for line in handle:
            if not line.strip():
                current = None
            elif current is None:
                current = (line.split()[0], [])
                samples.append(current)
            else:
                current[1].append(re.sub(r"^[0-9a-f]+ ", "", line.strip()))
    return samples


def any_frame(frames, *needles):
    return any(needle in frame for frame in frames for needle in needles)


CATEGORIES = [
    ("SHA-256 of received updates (for their signatures)",
     lambda f: "sha256" in f[0] and any_frame(f, "sealedDigest")),
    ("SHA-256 of the checkpoint file", lambda f: "sha256" in f[0] and any_frame(f, "Checkpoint")),
    ("SHA-256 of the model (its digest on the wire)", lambda f: "sha256" in f[0] and any_frame(f, "ModelDigest")),
    ("checkpoint: encoding and writing (page cache copies included)", lambda f: any_frame(f, "writeCheckpoint")),
    ("noise draw (exact discrete Gaussian, ChaCha20 keystream)",
     lambda f: any_frame(f, "DiscreteGaussian", "drawNoise", "ChaCha20")),
    ("opening sealed updates and Ed25519 (libsodium)", lambda f: "libsodium" in f[0]),
    ("TLS record encryption and decryption (AES-GCM)", lambda f: "aes_gcm" in f[0] or "gcm_" in f[0]),
    ("clip, norm, sum, noised mean, optimizer step",
     lambda f: any(k in f[0] for k in ("StreamingAggregator", "L2Clipping", "ServerOptimizer", "FixedPointGrid"))),
    ("network I/O: NIO pipeline, frame gathering, kernel TCP and copies",
     lambda f: any_frame(f, "NIO") or any(k in f[0] for k in ("tcp", "copy_", "skb", "sock"))),
]


def main():
    samples = read_samples(sys.argv[1])
    by_process = collections.Counter(pid for pid, frames in samples if any_frame(frames, "CohortCoordinator"))
    if not by_process:
        sys.exit("no sample passes through CohortCoordinator: was perf recording system-wide (-a) with -g?")
    coordinator = by_process.most_common(1)[0][0]
    counts, other, total = collections.Counter(), collections.Counter(), 0
    for pid, frames in samples:
        if pid != coordinator or not frames:
            continue
        total += 1
        for name, test in CATEGORIES:
            if test(frames):
                counts[name] += 1
                break
        else:
            other[frames[0].rsplit(" (", 1)[0][:70]] += 1
    print(f"coordinator pid {coordinator}: {total} samples")
    for name, _ in CATEGORIES:
        print(f"{100 * counts[name] / total:5.1f} %  {name}")
    print(f"{100 * sum(other.values()) / total:5.1f} %  other; largest: "
          + ", ".join(f"{name} ({n})" for name, n in other.most_common(5)))


if __name__ == "__main__":
    main()
