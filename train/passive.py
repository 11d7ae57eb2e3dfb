#!/usr/bin/python3
"""Fine-tunes Bonafide's passive anti-spoof models on the crops `bonafide train` wrote.

Run by `bonafide train` (which embeds this folder); by hand:
  /usr/bin/python3 passive.py features --crops DIR/crops --base fr_liveness.onnx --cache DIR/cache
  /usr/bin/python3 passive.py fit      --crops DIR/crops --base fr_liveness.onnx --cache DIR/cache --out DIR/models
  /usr/bin/python3 passive.py reference --base fr_liveness.onnx --crops DIR/crops --out ref.json [--model M.onnx]

The crops are the engine's own (same detector, crop rule and B,G,R order). Training fine-tunes the
layers of the base model after --cut; the layers before it stay as they are, so their activations
are computed once per crop and augmented copy (features) and every fold trains on them (fit).
Lines "PROGRESS stage done total" on stderr drive the caller's progress bar.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, read_image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment  # noqa: E402
from onnxport import OnnxNet  # noqa: E402

EMBED = '581'


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def progress(stage, done, total):
    print(f'PROGRESS {stage} {done} {total}', file=sys.stderr, flush=True)


def versions():
    return {'python': platform.python_version(), 'torch': torch.__version__, 'onnx': onnx.__version__,
            'numpy': np.__version__, 'threads': torch.get_num_threads()}


# ---- crops ------------------------------------------------------------------------------------

class Crops:
    """The crops' index: one row per face crop set, with a file and landmarks per view."""

    def __init__(self, folder):
        self.folder = folder
        with open(os.path.join(folder, 'index.tsv'), newline='') as f:
            self.rows = list(csv.DictReader(f, delimiter='\t'))
        if not self.rows:
            raise SystemExit(f'passive.py: {folder}/index.tsv has no crops')
        self.views = [c for c in self.rows[0] if c.startswith('p') and not c.endswith('_landmarks')]
        self.ids = [r['id'] for r in self.rows]
        self.attack = np.array([r['label'] == 'attack' for r in self.rows])
        self.group = [r['group'] for r in self.rows]
        self.close = np.array([float(r['close']) for r in self.rows])
        self.media = [r['media'] for r in self.rows]
        self.balance = None

    def load_balance(self, path):
        """Reads a table of live media and their demographic group (media TAB group, the media named
        as in the index; bonafide train --balance-skin writes it): the group of each crop, or None."""
        table = {}
        with open(path, newline='') as f:
            for r in csv.DictReader(f, delimiter='\t'):
                table[r['media']] = r['group']
        self.balance = [table.get(m) if not a else None for m, a in zip(self.media, self.attack)]
        known = sum(g is not None for g in self.balance)
        log(f'balance: {known} live crops of {len(set(g for g in self.balance if g))} groups from {path}')

    def digest(self):
        h = hashlib.sha256()
        for r in self.rows:
            h.update((r['id'] + r['label'] + '\n').encode())
        return h.hexdigest()[:16]

    def groups_digest(self):
        """The crops' groups (subjects): which are held out together, and how crops are weighed."""
        return hashlib.sha256('\n'.join(self.group).encode()).hexdigest()[:16]

    def image(self, i, view):
        """The crop as 3xHxW RGB float 0-255 and its landmarks (68x2, crop pixels)."""
        r = self.rows[i]
        img = read_image(os.path.join(self.folder, r[view]), ImageReadMode.RGB).float()
        lm = [float(v) for v in r[view + '_landmarks'].split()]
        return img, [(lm[2 * k], lm[2 * k + 1]) for k in range(68)]


def to_input(rgb):
    """The model's input from RGB crops (N x 3 x H x W, 0-255): B,G,R planes, raw values."""
    return rgb.flip(-3)


# ---- features ---------------------------------------------------------------------------------

def feature_paths(cache, view, cut, k):
    base = os.path.join(cache, f'{view}_{cut}_k{k}')
    return base + '.f16', base + '.json'


def cmd_features(a):
    crops = Crops(a.crops)
    net = OnnxNet(a.base, EMBED).eval()
    net = net.to(memory_format=torch.channels_last)
    os.makedirs(a.cache, exist_ok=True)
    with torch.no_grad():
        shape = tuple(net.prefix(torch.zeros(1, 3, 128, 128), a.cut).shape[1:])
    views = a.views.split(',') if a.views else crops.views
    n = len(crops.rows)
    for view in views:
        data, meta = feature_paths(a.cache, view, a.cut, a.k)
        want = {'digest': crops.digest(), 'n': n, 'k': a.k, 'cut': a.cut, 'shape': shape, 'seed': a.seed,
                'base_sha256': sha256(a.base), 'augment_sha256': augment_sha256()}
        done = 0
        if os.path.exists(meta) and os.path.exists(data):
            m = json.load(open(meta))
            if all(m.get(key) == (list(v) if isinstance(v, tuple) else v) for key, v in want.items()):
                done = m.get('done', 0)
        mm = np.lib.format.open_memmap(data, mode='r+' if done else 'w+', dtype=np.float16, shape=(n, a.k) + shape)
        start = time.time()
        batch = 32
        for s in range(done - done % batch, n, batch):
            imgs = []
            for i in range(s, min(n, s + batch)):
                img, lm = crops.image(i, view)
                g = torch.Generator().manual_seed(a.seed * 1000003 + i)
                imgs.append(img)
                for _ in range(1, a.k):
                    imgs.append(augment(img, lm, not crops.attack[i], g))
            x = to_input(torch.stack(imgs)).contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                h = net.prefix(x, a.cut).contiguous()
            mm[s:s + len(imgs) // a.k] = h.reshape((-1, a.k) + shape).numpy().astype(np.float16)
            done = min(n, s + batch)
            if (s // batch) % 10 == 0 or done == n:
                mm.flush()
                json.dump(dict(want, shape=list(shape), done=done), open(meta, 'w'))
                progress(f'features-{view}', done, n)
        mm.flush()
        json.dump(dict(want, shape=list(shape), done=n), open(meta, 'w'))
        log(f'features {view}: {n} crops x {a.k} copies in {time.time() - start:.0f} s')


def augment_sha256():
    """The augmentation code's digest: the augmented copies, so the features and every model trained
    on them, depend on it, and a changed augmentation must not reuse them."""
    return sha256(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'augment.py'))


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def load_features(a, crops, view):
    data, meta = feature_paths(a.cache, view, a.cut, a.k)
    if not os.path.exists(meta):
        raise SystemExit(f'passive.py: no features for {view} in {a.cache}: run features first')
    m = json.load(open(meta))
    if m['digest'] != crops.digest() or m['done'] != len(crops.rows):
        raise SystemExit(f'passive.py: the features in {a.cache} are not those of these crops: run features again')
    return np.load(data, mmap_mode='r')


# ---- folds ------------------------------------------------------------------------------------

def assign_folds(groups, attack, max_folds):
    """Each group (a subject, or a source) is held out whole. With max_folds > 0 the groups are
    packed into that many folds, largest first, each into the fold where live and attack crops
    stay most even, so that every fold leaves both classes to train on."""
    sizes = {}
    for g, a in zip(groups, attack):
        n = sizes.setdefault(g, [0, 0])
        n[int(a)] += 1
    names = sorted(sizes, key=lambda g: (-sum(sizes[g]), g))
    if max_folds <= 0 or max_folds >= len(names):
        return {g: i for i, g in enumerate(names)}
    tot = [max(1, sum(sizes[g][k] for g in names)) for k in (0, 1)]
    load = [[0, 0] for _ in range(max_folds)]
    out = {}
    for g in names:
        def cost(f):
            return max((load[f][k] + sizes[g][k]) / tot[k] for k in (0, 1))
        f = min(range(max_folds), key=lambda i: (cost(i), i))
        out[g] = f
        load[f][0] += sizes[g][0]
        load[f][1] += sizes[g][1]
    return out


# ---- training ---------------------------------------------------------------------------------

def binary_logit(logits):
    """log-odds of an attack from the 3 class logits (class 0 = live): logit(1 - softmax[0])."""
    return torch.logsumexp(logits[:, 1:], dim=1) - logits[:, 0]


def sample_weights(crops, idx):
    """Live and attack weigh the same in all; inside each, a group weighs with the square root of
    its size, so one large source does not drown the others. With crops.balance (a demographic group
    per crop, None where unknown; load_balance), the live crops of each known group then weigh, in all, with the
    square root of what they weighed, so a small group (V-VI skin tones) is not drowned by a large
    one either; the unknown keep their weight."""
    count = {}
    for i in idx:
        key = (crops.group[i], bool(crops.attack[i]))
        count[key] = count.get(key, 0) + 1
    w = np.array([1 / math.sqrt(count[(crops.group[i], bool(crops.attack[i]))]) for i in idx])
    att = crops.attack[idx]
    balance = crops.balance
    if balance is not None:
        live = np.where(~att)[0]
        total = {}
        for j in live:
            g = balance[idx[j]]
            if g is not None:
                total[g] = total.get(g, 0) + w[j]
        if total:
            scale = sum(total.values()) / sum(math.sqrt(v) for v in total.values())
            factor = {g: scale / math.sqrt(v) for g, v in total.items()}
            log('live weight per group:', ', '.join(f'{g} x{f:.2f}' for g, f in sorted(factor.items())))
            for j in live:
                w[j] *= factor.get(balance[idx[j]], 1.0)
    w[att] /= 2 * w[att].sum()
    w[~att] /= 2 * w[~att].sum()
    return w


def mix_style(h, group, attack, rng, alpha=0.1, eps=1e-5):
    """MixStyle across sources: each crop's activation statistics (per channel, over the map) are
    mixed with those of a crop of the same class (live or attack) from another source, so that
    the tuned layers learn what live and attack differ in rather than what sources differ in."""
    n = h.shape[0]
    partner = np.arange(n)
    for i in range(n):
        cand = np.flatnonzero((attack == attack[i]) & (group != group[i]))
        if len(cand):
            partner[i] = rng.choice(cand)
    mu = h.mean(dim=(2, 3), keepdim=True)
    sig = (h.var(dim=(2, 3), keepdim=True) + eps).sqrt()
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=(n, 1, 1, 1)).astype(np.float32))
    p = torch.from_numpy(partner)
    mu2 = lam * mu + (1 - lam) * mu[p]
    sig2 = lam * sig + (1 - lam) * sig[p]
    return (h - mu) / sig * sig2 + mu2


def train_tail(a, crops, feats, idx, stage):
    """Fine-tunes the layers after the cut on the crops idx; returns the trained net."""
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    net = OnnxNet(a.base, EMBED)
    tail = set(net.params_after(a.cut))
    for name, p in net.params.items():
        p.requires_grad = name in tail
    params = [p for name, p in net.params.items() if name in tail]
    base = [p.detach().clone() for p in params]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0)
    att = crops.attack[idx]
    if att.all() or not att.any():
        raise SystemExit(f'passive.py: {stage}: the crops to train on are all {"attacks" if att.all() else "live"}: '
                         'give the manifest both live and attack media of several subjects, or use fewer folds')
    w = sample_weights(crops, idx)
    groups = np.asarray(crops.group)
    # A fixed sample of the training crops (the unaugmented copies), to show the loss falls.
    probe = rng.choice(idx, size=min(256, len(idx)), replace=False)
    probe_w = torch.from_numpy(w[np.searchsorted(idx, probe)]).float()  # idx is sorted

    def probe_loss():
        with torch.no_grad():
            h = torch.from_numpy(np.stack([feats[i, 0] for i in probe]).astype(np.float32))
            z = binary_logit(net.tail(h, a.cut))
            y = torch.from_numpy(crops.attack[probe].astype(np.float32))
            return float((F.binary_cross_entropy_with_logits(z, y, reduction='none') * probe_w).sum() / probe_w.sum())

    net.eval()
    before = probe_loss()
    steps_per_epoch = max(1, len(idx) // a.batch)
    total = int(steps_per_epoch * a.epochs)
    if a.max_steps:
        total = min(total, a.max_steps)
    net.train()
    step = 0
    losses = []
    start = time.time()
    while step < total:
        pick = rng.choice(idx, size=a.batch, p=w)
        copy = rng.integers(0, a.k, size=a.batch)
        h = torch.from_numpy(np.stack([feats[i, c] for i, c in zip(pick, copy)]).astype(np.float32))
        y = torch.from_numpy(crops.attack[pick].astype(np.float32))
        if a.mixstyle and rng.random() < a.mixstyle:
            h = mix_style(h, groups[pick], crops.attack[pick], rng)
        z = binary_logit(net.tail(h, a.cut))
        loss = F.binary_cross_entropy_with_logits(z, y)
        if a.l2sp:
            loss = loss + a.l2sp * sum(((p - b) ** 2).sum() for p, b in zip(params, base))
        lr = a.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / total))
        for gr in opt.param_groups:
            gr['lr'] = lr
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 20 == 0 or step == total:
            progress(stage, step, total)
    def moved():
        with torch.no_grad():
            return math.sqrt(sum(float(((p - b) ** 2).sum()) for p, b in zip(params, base)))

    tuned = moved()
    # WiSE-FT: the tuned layers' weights moved back towards the base model's, a fraction
    # 1 - blend of the way; out of source this keeps what the base model knew of sources
    # the training set lacks (chosen on out-of-source figures, models/README.md).
    with torch.no_grad():
        for p, b in zip(params, base):
            p.copy_(a.blend * p + (1 - a.blend) * b)
    net.eval()
    after = probe_loss()
    log(f'{stage}: {total} steps of {a.batch} in {time.time() - start:.0f} s; loss on {len(probe)} training crops {before:.4f} -> {after:.4f}')
    # How far training moved the tuned layers from the base model, and how far the shipped ones are.
    return net, {'steps': total, 'loss_before': before, 'loss_after': after, 'moved_tuned': tuned, 'moved_kept': moved(),
                 'batch_loss_first': float(np.mean(losses[:20])), 'batch_loss_last': float(np.mean(losses[-20:]))}


def score(net, feats, idx, cut, copy=0):
    out = []
    with torch.no_grad():
        for s in range(0, len(idx), 256):
            h = torch.from_numpy(np.stack([feats[i, copy] for i in idx[s:s + 256]]).astype(np.float32))
            out.append(torch.sigmoid(binary_logit(net.tail(h, cut))).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def auc(scores, attack):
    """ROC AUC: the chance that an attack scores above a live crop (ties count half)."""
    pos, neg = scores[attack], scores[~attack]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([neg, pos]), kind='mergesort')
    ranks = np.empty(len(order))
    allv = np.concatenate([neg, pos])[order]
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r = ranks[len(neg):].sum()
    return float((r - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def export(net, path, crops, view, n=16):
    """ONNX (opset 13), input 'input' 1x3x128x128 B,G,R 0-255, output 'output' 1x3 logits; and
    beside it PATH.reference.json: the torch module's logits on the first n crops of the view, for
    the caller to check ONNX Runtime against."""
    net.eval()
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(net, torch.zeros(1, 3, 128, 128), path, opset_version=13,
                          input_names=['input'], output_names=['output'], do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    json.dump(reference(net, crops, view, n), open(path + '.reference.json', 'w'), indent=1)


def reference(net, crops, view, n):
    out = {'view': view, 'crops': [], 'logits': [], 'versions': versions()}
    with torch.no_grad():
        for i in range(min(n, len(crops.rows))):
            img, _ = crops.image(i, view)
            out['crops'].append(crops.rows[i][view])
            out['logits'].append([float(v) for v in net(to_input(img[None]))[0]])
    return out


def fit_key(a, crops, view, fold):
    """What a trained model depends on: resuming reuses a model only when all of it is the same."""
    keys = ['cut', 'k', 'seed', 'epochs', 'batch', 'lr', 'l2sp', 'blend', 'max_steps', 'max_folds', 'mixstyle']
    balance = {'balance': sha256(a.balance)} if a.balance else {}
    return json.dumps({'digest': crops.digest(), 'groups': crops.groups_digest(), 'view': view, 'fold': fold, 'base': sha256(a.base),
                       'augment': augment_sha256(), **balance, **{k: getattr(a, k) for k in keys}}, sort_keys=True)


def cmd_fit(a):
    torch.set_num_threads(a.threads)
    crops = Crops(a.crops)
    if a.balance:
        crops.load_balance(a.balance)
    views = a.views.split(',') if a.views else crops.views
    folds = assign_folds(crops.group, crops.attack, a.max_folds)
    nfold = max(folds.values()) + 1
    fold_of = np.array([folds[g] for g in crops.group])
    report = {'versions': versions(), 'args': vars(a), 'crops': len(crops.rows), 'digest': crops.digest(),
              'folds': {}, 'views': {}}
    for g, f in sorted(folds.items(), key=lambda x: (x[1], x[0])):
        report['folds'].setdefault(str(f), []).append(g)
    all_idx = np.arange(len(crops.rows))
    only = set(int(x) for x in a.only_folds.split(',')) if a.only_folds else None
    jobs = [] if a.no_folds else [f for f in range(nfold) if only is None or f in only]
    if not a.no_final:
        jobs.append('final')
    for view in views:
        feats = load_features(a, crops, view)
        base = OnnxNet(a.base, EMBED).eval()
        rv = {'folds': {}}
        oof = np.full(len(crops.rows), np.nan)
        for f in jobs:
            name = f'fold-{f}' if f != 'final' else 'final'
            path = os.path.join(a.out, name, f'passive_{view}.onnx')
            done = os.path.join(a.out, name, f'result_{view}.json')
            key = fit_key(a, crops, view, f)
            if os.path.exists(path) and os.path.exists(done):
                res = json.load(open(done))
                if res.get('key') == key:
                    log(f'{name} {view}: trained by an earlier run, kept')
                    if f != 'final':
                        for i, p in res['oof'].items():
                            oof[int(i)] = p
                        rv['folds'][str(f)] = res['summary']
                    else:
                        rv['final'] = res['summary']
                    continue
            trainset = all_idx if f == 'final' else all_idx[fold_of != f]
            net, summary = train_tail(a, crops, feats, trainset, f'{name}-{view}')
            summary['train_crops'] = int(len(trainset))
            res = {'key': key, 'summary': summary, 'oof': {}}
            if f != 'final':
                test = all_idx[fold_of == f]
                test_frames = test[crops.close[test] == 0]
                s_new = score(net, feats, test_frames, a.cut)
                s_base = score(base, feats, test_frames, a.cut)
                p_test = score(net, feats, test, a.cut)
                oof[test] = p_test
                res['oof'] = {str(int(i)): float(p) for i, p in zip(test, p_test)}
                summary.update({'groups': report['folds'][str(f)], 'crops': int(len(test_frames)),
                                'auc': auc(s_new, crops.attack[test_frames]),
                                'auc_base': auc(s_base, crops.attack[test_frames])})
                rv['folds'][str(f)] = summary
                fmt = lambda v: 'n/a' if v is None else f'{v:.3f}'
                log(f'fold {f} {view}: held out {", ".join(report["folds"][str(f)])}: crop AUC {fmt(summary["auc"])} (base model {fmt(summary["auc_base"])})')
            else:
                rv['final'] = summary
            export(net, path, crops, view)
            json.dump(res, open(done, 'w'))
        if not a.no_folds:
            with open(os.path.join(a.out, f'oof_{view}.tsv'), 'w') as fo:
                fo.write('id\tmedia\tgroup\tfold\tclose\tattack\tp_attack\n')
                for i in all_idx:
                    if not math.isnan(oof[i]):
                        fo.write(f'{crops.ids[i]}\t{crops.media[i]}\t{crops.group[i]}\t{fold_of[i]}\t{crops.close[i]:g}\t{int(crops.attack[i])}\t{oof[i]:.6f}\n')
        report['views'][view] = rv
    os.makedirs(a.out, exist_ok=True)
    name = 'train-report.json' if only is None else f'train-report-{a.only_folds.replace(",", "_")}.json'
    json.dump(report, open(os.path.join(a.out, name), 'w'), indent=1)


def cmd_reference(a):
    """Logits of the torch port of --base on the first --n crops of --view, for the caller to
    compare with ONNX Runtime running the same file."""
    crops = Crops(a.crops)
    net = OnnxNet(a.base, EMBED).eval()
    json.dump(reference(net, crops, a.view or crops.views[0], a.n), open(a.out, 'w'), indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)

    def common(sp):
        sp.add_argument('--crops', required=True, help='the crops folder bonafide train wrote')
        sp.add_argument('--base', required=True, help='the base model (fr_liveness.onnx)')
        sp.add_argument('--cache', help='where the frozen layers\' activations are kept')
        sp.add_argument('--cut', default='647', help='tensor after which layers are fine-tuned')
        sp.add_argument('--k', type=int, default=5, help='copies per crop: the crop and k-1 augmented')
        sp.add_argument('--views', default='', help='views to use (default: all in the index)')
        sp.add_argument('--seed', type=int, default=1)
        sp.add_argument('--threads', type=int, default=max(1, min(2, os.cpu_count() or 1)))

    sp = sub.add_parser('features', help='compute the frozen layers\' activations of every crop and augmented copy')
    common(sp)
    sp = sub.add_parser('fit', help='fine-tune per fold (held out by group) and on everything; export ONNX')
    common(sp)
    sp.add_argument('--out', required=True)
    sp.add_argument('--epochs', type=float, default=4)
    sp.add_argument('--batch', type=int, default=64)
    sp.add_argument('--lr', type=float, default=3e-4)
    sp.add_argument('--l2sp', type=float, default=0.0, help='pull the weights towards the base model')
    sp.add_argument('--mixstyle', type=float, default=0.0,
                    help='share of batches whose activation statistics are mixed across sources (MixStyle)')
    sp.add_argument('--blend', type=float, default=1.0,
                    help='weight of the tuned layers against the base model\'s after training (WiSE-FT; 1: the tuned weights)')
    sp.add_argument('--max-steps', type=int, default=0, help='stop each training after this many steps (smoke tests)')
    sp.add_argument('--max-folds', type=int, default=5, help='pack the groups into this many folds (0: one per group)')
    sp.add_argument('--only-folds', default='', help='train only these folds (comma-separated)')
    sp.add_argument('--no-folds', action='store_true', help='train only the final model')
    sp.add_argument('--no-final', action='store_true', help='train only the folds')
    sp.add_argument('--balance', default='', help='a table of live media and their demographic group (media, group): '
                    'the live crops of each group weigh with the square root of their share')
    sp = sub.add_parser('reference', help='torch logits on the first crops, to compare with ONNX Runtime')
    sp.add_argument('--crops', required=True)
    sp.add_argument('--base', required=True)
    sp.add_argument('--view', default='')
    sp.add_argument('--n', type=int, default=16)
    sp.add_argument('--out', required=True)
    a = p.parse_args()
    if getattr(a, 'threads', None):
        torch.set_num_threads(a.threads)
    if getattr(a, 'cache', None) is None and a.cmd != 'reference':
        a.cache = os.path.join(os.path.dirname(os.path.abspath(a.crops)), 'cache')
    log('passive.py', a.cmd, json.dumps(versions()))
    {'features': cmd_features, 'fit': cmd_fit, 'reference': cmd_reference}[a.cmd](a)


if __name__ == '__main__':
    main()
