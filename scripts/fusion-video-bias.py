#!/usr/bin/env python3
"""What a fusion bias of its own for videos would do: the README's "Fusion" paragraph.

    python3 scripts/fusion-video-bias.py --scores RUN/report/scores.tsv

RUN is a `bonafide train --out` directory; its report/scores.tsv holds every media's out-of-source
signals. The fusion is refitted the way `bonafide eval --fit` fits it (eval/fit.go: live and attack
weigh the same in all, L2 strength chosen from 0.001..10 by 5 folds grouped by subject, the video
signals fixed at the weights of the run's calibration), once as shipped (bias + passive weight) and once with a 0/1
"is a video" feature added, and prints each media kind's errors out of fold at threshold 0.5 and
every video that is wrong or not a synthetic attack. An analysis, not a product path: the engine has one
bias for every kind of media.
"""
import argparse
import csv
import json
import math
import os

import numpy as np

VIDEO = ('.mp4', '.webm', '.avi', '.mov', '.mkv')
VIDEO_SIGNALS = ('challenge', 'flatness', 'identity')  # kept at the run's weights (--fit-fixed)
LAMBDAS = (0.001, 0.01, 0.1, 1, 10)


def logit(p, eps=1e-4):
    p = min(max(p, eps), 1 - eps)
    return math.log(p / (1 - p))


def fit(x, y, w, off, lam):
    """Weighted L2 logistic regression by Newton's method; beta[0] (the bias) unregularised."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(x1.shape[1])
    beta[0] = -off.mean()
    reg = lam * np.eye(len(beta))
    reg[0, 0] = 1e-9
    for _ in range(200):
        p = 1 / (1 + np.exp(-(x1 @ beta + off)))
        step = np.linalg.solve((x1 * (w * p * (1 - p))[:, None]).T @ x1 + reg, x1.T @ (w * (p - y)) + reg @ beta)
        step *= min(1.0, 4 / max(np.abs(step).max(), 1e-300))
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--scores', required=True, help='report/scores.tsv of a bonafide train run')
    a = ap.parse_args()
    # The run's fitted calibration holds the weights the video signals kept: RUN/model/calibration.json.
    cal = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(a.scores))), 'model', 'calibration.json')
    if not os.path.exists(cal):
        raise SystemExit(f'{cal} is missing: give --scores the report/scores.tsv of a finished bonafide train run')
    with open(cal) as f:
        weights = json.load(f)['weights']
    fixed = {s: weights.get(s, 0) for s in VIDEO_SIGNALS}
    with open(a.scores, newline='') as f:
        rows = [r for r in csv.DictReader(f, delimiter='\t')
                if not r['error'] and r['fta'] == '0' and r['passive']]
    y = np.array([float(r['label'] == 'attack') for r in rows])
    video = np.array([float(os.path.splitext(r['path'])[1].lower() in VIDEO) for r in rows])
    lp = np.array([logit(float(r['passive'])) for r in rows])
    off = np.array([sum(wt * float(r[s] or 0) for s, wt in fixed.items()) for r in rows])
    n = len(rows)
    w = np.where(y == 1, n / (2 * y.sum()), n / (2 * (1 - y).sum()))
    groups, fold = {}, np.zeros(n, int)  # subjects dealt round robin, as eval.assignFolds
    for k, r in enumerate(rows):
        fold[k] = groups.setdefault(r['subject'], len(groups) % 5)

    for name, x in (('one bias (shipped)', lp[:, None]), ('a bias of its own for videos', np.stack([lp, video], 1))):
        best = None
        for lam in LAMBDAS:
            pred = np.zeros(n)
            for f in range(5):
                tr, te = fold != f, fold == f
                beta = fit(x[tr], y[tr], w[tr], off[tr], lam)
                pred[te] = 1 / (1 + np.exp(-(np.hstack([np.ones((te.sum(), 1)), x[te]]) @ beta + off[te])))
            pc = np.clip(pred, 1e-12, 1 - 1e-12)
            loss = -(w * (y * np.log(pc) + (1 - y) * np.log(1 - pc))).sum() / w.sum()
            if best is None or loss < best[0]:
                best = (loss, lam, pred)
        loss, lam, pred = best
        beta = fit(x, y, w, off, lam)
        print(f'{name}: L2 {lam}, out-of-fold balanced log-loss {loss:.4f}, bias {beta[0]:.3f}, '
              f'passive weight {beta[1]:.3f}' + (f', video bias {beta[2]:.3f}' if len(beta) > 2 else ''))
        for kind, m in (('videos', video == 1), ('photos and crops', video == 0)):
            live, att = m & (y == 0), m & (y == 1)
            print(f'  {kind}: live declined {int((pred[live] >= 0.5).sum())}/{int(live.sum())}, '
                  f'attacks accepted {int((pred[att] < 0.5).sum())}/{int(att.sum())}')
        for k in np.flatnonzero(video == 1):
            if (pred[k] >= 0.5) != (y[k] == 1) or not rows[k]['path'].startswith('pinned-set-full/attack/'):
                print(f'    {rows[k]["path"]}\t{rows[k]["label"]}\tpassive P {float(rows[k]["passive"]):.3f}\t'
                      f'fused out of fold {pred[k]:.3f}\t{rows[k]["reasons"]}')


if __name__ == '__main__':
    main()
