#!/usr/bin/env python3
"""Writes the manifest the shipped passive models are trained on: the development set
($BONAFIDE_CACHE/devset/manifest.tsv, built by ../shared/devset/assemble.py) and the pinned-media
set with its synthetic attacks ($BONAFIDE_CACHE/pinned-set-full/manifest.tsv, built by
scripts/pinned-set.sh), paths relative to $BONAFIDE_CACHE. A row without a subject gets its source
(the first folder of its path) as subject, so that folds hold whole sources out.

usage: training-manifest.py [OUT]   (default $BONAFIDE_CACHE/train-devset.tsv)"""
import csv, os, sys
cache = os.environ.get('BONAFIDE_CACHE', os.path.expanduser('~/.cache/bonafide'))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cache, 'train-devset.tsv')
rows = []
for part, prefix in (('devset', ''), ('pinned-set-full', 'pinned:')):
    path = os.path.join(cache, part, 'manifest.tsv')
    if not os.path.exists(path):
        sys.exit(f'training-manifest.py: {path} is missing (see the README: the development set and scripts/pinned-set.sh)')
    for r in csv.DictReader(open(path), delimiter='\t'):
        subject = r.get('subject') or r['path'].split('/')[0]
        rows.append([f"{part}/{r['path']}", r['label'], r.get('species', ''), prefix + subject, r.get('tags', '')])
with open(out, 'w', newline='') as f:
    w = csv.writer(f, delimiter='\t', lineterminator='\n')
    w.writerow(['path', 'label', 'species', 'subject', 'tags'])
    w.writerows(rows)
print(f'{out}: {len(rows)} rows')
