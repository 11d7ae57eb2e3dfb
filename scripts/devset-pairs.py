#!/usr/bin/env python3
"""Writes a face-verification pairs manifest (path_a, path_b, same) from the development set's live
media, for `bonafide eval` (BIOMETRY figures). Media of one subject make genuine pairs, media of two
subjects impostor pairs. Deterministic: per subject, up to PER_SUBJECT media evenly spaced in path
order; every genuine pair among them; for every two subjects, IMPOSTOR_PER_PAIR pairs.

usage: scripts/devset-pairs.py [DEVSET_DIR]   (default $BONAFIDE_CACHE/devset; writes DIR/pairs.tsv)
"""
import csv
import itertools
import os
import sys

PER_SUBJECT = 8
IMPOSTOR_PER_PAIR = 4


def main():
    cache = os.environ.get("BONAFIDE_CACHE", os.path.expanduser("~/.cache/bonafide"))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cache, "devset")
    manifest = os.path.join(root, "manifest.tsv")
    if not os.path.exists(manifest):
        sys.exit(f"devset-pairs: {manifest} is missing: build the development set first (../shared/devset/README.md)")
    by_subject = {}
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["label"] == "live" and row["subject"]:
                by_subject.setdefault(row["subject"], []).append(row["path"])
    chosen = {}
    for subject, paths in sorted(by_subject.items()):
        paths.sort()
        n = min(PER_SUBJECT, len(paths))
        chosen[subject] = [paths[(i * len(paths)) // n] for i in range(n)]
    rows = []
    for subject, paths in chosen.items():
        rows += [(a, b, 1) for a, b in itertools.combinations(paths, 2)]
    for (s1, p1), (s2, p2) in itertools.combinations(chosen.items(), 2):
        for i in range(IMPOSTOR_PER_PAIR):
            rows.append((p1[i % len(p1)], p2[(i * 3 + 1) % len(p2)], 0))
    out = os.path.join(root, "pairs.tsv")
    with open(out, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["path_a", "path_b", "same"])
        w.writerows(rows)
    same = sum(r[2] for r in rows)
    print(f"devset-pairs: {len(rows)} pairs ({same} genuine, {len(rows) - same} impostor) of "
          f"{sum(len(p) for p in chosen.values())} media from {len(chosen)} subjects in {out}")


if __name__ == "__main__":
    main()
