#!/usr/bin/env python3
"""Each development-set video analysed at 25, 50 and 100 frames, by the fold model of a
`bonafide train` run that held it out and that run's calibration: the README's "Sampling" table.

    python3 scripts/devset-video-frames.py --run RUN_DIR [--bin bin/bonafide] [--manifest M]

RUN_DIR is a `bonafide train --out` directory (its models/train-report.json names the subjects each
fold held out, its models/fold-N the fold models, its model/calibration.json the fusion). Prints a markdown table
and the number of wrong decisions (threshold 0.5).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

VIDEO = ('.mp4', '.webm', '.avi', '.mov', '.mkv')
FRAMES = (25, 50, 100)


def folds(run):
    """fold group -> fold, from the run's models/train-report.json (what passive.py fit held out)."""
    path = os.path.join(run, 'models', 'train-report.json')
    if not os.path.exists(path):
        sys.exit(f'{path} is missing: give --run a finished `bonafide train --out` directory trained with --folds')
    with open(path) as f:
        report = json.load(f)
    return {g: int(k) for k, groups in report.get('folds', {}).items() for g in groups}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True, help='a bonafide train --out directory')
    ap.add_argument('--bin', default='bin/bonafide', help='the bonafide binary (default bin/bonafide)')
    cache = os.environ.get('BONAFIDE_CACHE', os.path.expanduser('~/.cache/bonafide'))
    ap.add_argument('--manifest', default=os.path.join(cache, 'devset', 'manifest.tsv'),
                    help='the development set manifest (default $BONAFIDE_CACHE/devset/manifest.tsv)')
    a = ap.parse_args()
    fold_of = folds(a.run)
    if not fold_of:
        sys.exit(f'{a.run} held no folds out: was it trained with --no-folds?')
    root = os.path.dirname(os.path.abspath(a.manifest))
    with open(a.manifest, newline='') as f:
        rows = [r for r in csv.DictReader(f, delimiter='\t') if os.path.splitext(r['path'])[1].lower() in VIDEO]

    # The development set names every subject, and a subject is its own fold group (train/run.go
    # groupOf). A video whose subject no fold held out has no out-of-source model: say so.
    unheld = [r['path'] for r in rows if r['subject'] not in fold_of]
    if unheld:
        sys.exit(f'{a.run} held out no fold for these videos\' subjects (another manifest?): ' + ', '.join(unheld))

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k in sorted({fold_of[r['subject']] for r in rows}):
            manifest = os.path.join(tmp, f'fold-{k}.tsv')
            with open(manifest, 'w') as f:
                f.write('path\tlabel\tspecies\tsubject\ttags\n')
                for r in rows:
                    if fold_of[r['subject']] == k:
                        f.write('\t'.join([os.path.join(root, r['path']), r['label'], r['species'], r['subject'], r['tags']]) + '\n')
            for n in FRAMES:
                out = os.path.join(tmp, f'fold-{k}-{n}')
                subprocess.run([a.bin, 'eval', '--quiet', '--frames', str(n),
                                '--passive-models', os.path.join(a.run, 'models', f'fold-{k}'),
                                '--calibration', os.path.join(a.run, 'model', 'calibration.json'),
                                '--out', out, manifest], check=True, stdout=subprocess.DEVNULL)
                with open(os.path.join(out, 'scores.tsv'), newline='') as f:
                    for s in csv.DictReader(f, delimiter='\t'):
                        name = os.path.relpath(os.path.join(root, s['path']), root)  # scores.tsv may write it absolute
                        results.setdefault(name, {'label': s['label'], 'fold': k})[n] = (float(s['fusion']), s['reasons'])
    print('| video | label | fold | 25 frames | 50 frames | 100 frames |')
    print('|---|---|---|---|---|---|')
    wrong = 0
    for name, v in results.items():
        cells = []
        for n in FRAMES:
            p, reasons = v[n]
            status = 'DECLINED' if p >= 0.5 else 'SUCCESS'
            wrong += (status == 'DECLINED') != (v['label'] == 'attack')
            cells.append(f'{status} {p:.3f} {reasons}'.strip())
        print(f"| {name} | {v['label']} | {v['fold']} | " + ' | '.join(cells) + ' |')
    print(f'\nwrong decisions: {wrong} of {len(FRAMES) * len(results)}')


if __name__ == '__main__':
    main()
