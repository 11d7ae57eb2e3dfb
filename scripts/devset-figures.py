#!/usr/bin/env python3
"""The development-set tables of the README and models/README.md, from scores files.

Reads the out-of-source scores of `bonafide train` (DIR/report/scores.tsv; paths relative to the
training manifest, e.g. devset/...), the development set's MANIFEST.tsv (its `media` column: image
or chip; videos by their file ending) and, optionally, the Silent-Face scores of
scripts/silentface-compare.py and a groups table (docs/devset-demographics.tsv). Prints markdown:
figures per kind of media (full-frame photos, face crops, videos) for Bonafide and Silent-Face side
by side, per source, per species, and BPCER per apparent skin tone and age. Rates at the threshold
(0.5) with counts and 95% Wilson intervals.

usage: devset-figures.py --scores DIR/report/scores.tsv --manifest ../shared/devset/MANIFEST.tsv
                         [--silentface scores.tsv] [--groups docs/devset-demographics.tsv]
"""
import argparse
import csv
import math
import os

VIDEO = ('.mp4', '.avi', '.webm', '.mov', '.mkv')


def wilson(k, n, z=1.96):
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def rate(k, n):
    if n == 0:
        return ''
    lo, hi = wilson(k, n)
    return f'{100 * k / n:.1f}% ({k}/{n}, CI {100 * lo:.1f}–{100 * hi:.1f}%)'


def auc(live, att):
    if not live or not att:
        return float('nan')
    s = 0.0
    for a in att:
        for l in live:
            s += 1.0 if a > l else 0.5 if a == l else 0.0
    return s / (len(live) * len(att))


def read_tsv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader((l for l in f if not l.startswith('#')), delimiter='\t'))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--scores', required=True)
    p.add_argument('--manifest', required=True)
    p.add_argument('--silentface')
    p.add_argument('--groups')
    p.add_argument('--prefix', default='devset/', help='the devset paths\' prefix in the scores file')
    p.add_argument('--threshold', type=float, default=0.5)
    a = p.parse_args()
    man = {r['path']: r for r in read_tsv(a.manifest)}
    ours = {}
    for r in read_tsv(a.scores):
        path = r['path']
        if not path.startswith(a.prefix):
            continue
        path = path[len(a.prefix):]
        if path not in man:
            continue
        err = r.get('error', '')
        v = r.get('fusion', '')
        ours[path] = None if err or v == '' else float(v)
    sf = {}
    if a.silentface:
        for r in read_tsv(a.silentface):
            v = r.get('p_attack', '')
            sf[r['path']] = None if r.get('error') or v == '' else float(v)

    def kind(path):
        if path.lower().endswith(VIDEO):
            return 'video'
        return {'image': 'photo', 'chip': 'crop'}.get(man[path]['media'], man[path]['media'])

    def figures(paths, scores):
        live = [scores.get(x) for x in paths if man[x]['label'] == 'live']
        att = [(man[x]['species'] or 'unlabelled', scores.get(x)) for x in paths if man[x]['label'] == 'attack']
        # A media the system could not score (no face, unreadable) counts against it: 1.0.
        lv = [1.0 if s is None else s for s in live]
        av = [1.0 if s is None else s for _, s in att]
        bp = sum(1 for s in lv if s >= a.threshold)
        species = {}
        for sp, s in att:
            s = 1.0 if s is None else s
            k, n = species.get(sp, (0, 0))
            species[sp] = (k + (s < a.threshold), n + 1)
        acc = sum(1 for s in av if s < a.threshold)
        return {'live': len(lv), 'bpcer': (bp, len(lv)), 'attacks': len(av), 'apcer': (acc, len(av)),
                'species': species, 'auc': auc(lv, av)}

    systems = [('Bonafide', ours)] + ([('Silent-Face', sf)] if sf else [])
    paths = sorted(p for p in man if p in ours)
    print(f'{len(paths)} development-set media scored by Bonafide out of source (of {len(man)})\n')
    print('| kind | system | live | BPCER | attacks | APCER (all species) | worst species (20+ media) | AUC |')
    print('|---|---|---:|---|---:|---|---|---:|')
    for k in ('photo', 'crop', 'video', 'all'):
        sel = [x for x in paths if k == 'all' or kind(x) == k]
        for name, sc in systems:
            f = figures(sel, sc)
            worst = max(((kk / nn, sp, kk, nn) for sp, (kk, nn) in f['species'].items() if nn >= 20), default=None)
            w = f'{worst[1]} {rate(worst[2], worst[3])}' if worst else ''
            print(f"| {k} | {name} | {f['live']} | {rate(*f['bpcer'])} | {f['attacks']} | {rate(*f['apcer'])} | {w} | {f['auc']:.3f} |")
    print('\nPer species (Bonafide; photos and videos = full frames, then crops):\n')
    print('| kind | species | attacks | APCER Bonafide | APCER Silent-Face |')
    print('|---|---|---:|---|---|')
    for k, kinds in (('full frames', ('photo', 'video')), ('crops', ('crop',))):
        sel = [x for x in paths if kind(x) in kinds]
        fo = figures(sel, ours)
        fs = figures(sel, sf) if sf else None
        for sp, (kk, nn) in sorted(fo['species'].items()):
            other = rate(*fs['species'][sp]) if fs else ''
            print(f'| {k} | {sp} | {nn} | {rate(kk, nn)} | {other} |')
    print('\nPer source (Bonafide, out of source):\n')
    print('| source | kind | live | BPCER | attacks | APCER | AUC | Silent-Face AUC |')
    print('|---|---|---:|---|---:|---|---:|---:|')
    groups = {}
    for x in paths:
        groups.setdefault((x.split('/')[0], kind(x)), []).append(x)
    for (src, k), sel in sorted(groups.items()):
        f = figures(sel, ours)
        fa = f"{f['auc']:.3f}" if not math.isnan(f['auc']) else ''
        sa = ''
        if sf:
            g = figures(sel, sf)
            sa = f"{g['auc']:.3f}" if not math.isnan(g['auc']) else ''
        print(f"| {src} | {k} | {f['live']} | {rate(*f['bpcer'])} | {f['attacks']} | {rate(*f['apcer'])} | {fa} | {sa} |")
    if a.groups:
        subj, media = {}, {}
        for r in read_tsv(a.groups):
            (subj if r['kind'] == 'subject' else media)[r['key']] = r
        for attr in ('skin', 'age'):
            print(f'\nBPCER per apparent {attr} (live media of the development set):\n')
            print('| group | live | BPCER Bonafide | BPCER Silent-Face |')
            print('|---|---:|---|---|')
            by = {}
            for x in paths:
                if man[x]['label'] != 'live':
                    continue
                r = media.get(x) or subj.get(man[x]['subject'])
                if r:
                    by.setdefault(r[attr], []).append(x)
            rows = []
            for g, sel in sorted(by.items()):
                f = figures(sel, ours)
                fs = figures(sel, sf) if sf else None
                rows.append((g, f['bpcer']))
                print(f"| {g} | {f['live']} | {rate(*f['bpcer'])} | {rate(*fs['bpcer']) if fs else ''} |")
            known = [(g, kn) for g, kn in rows if g != 'unknown' and kn[1] >= 20]
            if len(known) >= 2:
                known.sort(key=lambda r: r[1][0] / r[1][1])
                (bg, (k2, n2)), (wg, (k1, n1)) = known[0], known[-1]
                if k1 == 0 or k2 == 0:
                    k1, n1, k2, n2 = k1 + .5, n1 + .5, k2 + .5, n2 + .5
                r = (k1 / n1) / (k2 / n2)
                se = math.sqrt(1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)
                print(f'\nBPCER differential ({wg} over {bg}, groups of 20+ live media): {r:.2f} '
                      f'(95% {r * math.exp(-1.96 * se):.2f}–{r * math.exp(1.96 * se):.2f})')


if __name__ == '__main__':
    main()
