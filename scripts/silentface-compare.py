#!/usr/bin/python3
"""Score a development set with the open Silent-Face-Anti-Spoofing pipeline, for comparison with Bonafide.

Silent-Face-Anti-Spoofing (minivision-ai, Apache-2.0) is NOT part of this repository and must never be
committed to it: neither its code nor its weights. This runner imports its modules at run time from a
checkout given with --silentface (a clone of github.com/minivision-ai/Silent-Face-Anti-Spoofing).

What it does, per media of the manifest (paths relative to the manifest's folder):

  * photo or chip: read it with cv2.imread (BGR, EXIF orientation applied, as upstream's test.py does);
    find the face with Silent-Face's own detector (AntiSpoofPredict.get_bbox, the OpenCV-DNN caffe
    RetinaFace); for every model in resources/anti_spoof_models crop with its CropImage at the
    model's scale (parsed from the file name: 2.7 and 4.0, 80x80), run AntiSpoofPredict.predict and sum
    the softmaxes; P(real) = summed[label 1] / number of models. p_attack = 1 - P(real).
    Upstream's get_bbox always returns its most confident box and never applies its own
    detector_confidence (0.6). Here a face counts as found when that best confidence is >= 0.6 and the
    box is not degenerate; otherwise the whole image is used as the face box and face_found=0.
    p_attack_upstream always holds the score with upstream's best box (equal to p_attack where the
    face was found; where nothing was detected that box is upstream's [0, 0, 1, 1], a few pixels in the
    top-left corner; empty only where upstream would crash).
  * video: frames are sampled the way Bonafide's engine samples them (media/video.go): up to 50
    frames, one per equal time slot, by an ffmpeg select filter, autorotated, scaled so the long side
    is <= 1280. Each frame in which the detector finds a face (as above) is scored; the video gets the
    mean P(real) of those frames (frames_used). Where no frame has a face, all frames are scored with
    the whole frame as the box and face_found=0. The same is done with 25 and 100 frames
    (p_attack_f25, p_attack_f100).

Usage:
  /usr/bin/python3 scripts/silentface-compare.py --silentface DIR --manifest MANIFEST.tsv --out scores.tsv
  /usr/bin/python3 scripts/silentface-compare.py --summary scores.tsv [--summary-out summary.md]

Output TSV columns: path, label, species, subject, media, face_found, p_attack, frames_used, then
det_conf (best detector confidence; the mean over used frames for videos), p_attack_upstream,
p_attack_f25, p_attack_f100, error.
"""

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Implicit dimension choice for softmax")

import numpy as np

VIDEO_EXT = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".m4v", ".3gp", ".mpg", ".mpeg", ".ts"}
MAX_FRAME_SIDE = 1280  # media.Limits.MaxFrameSide default
DET_CONF = 0.6  # Silent-Face's Detection.detector_confidence (defined upstream, never applied)
COLUMNS = ["path", "label", "species", "subject", "media", "face_found", "p_attack", "frames_used",
           "det_conf", "p_attack_upstream", "p_attack_f25", "p_attack_f100", "error"]


# ----------------------------------------------------------------------------- scoring

class _RecordingNet:
    """Stands in for the cv2.dnn.Net of Silent-Face's Detection and keeps the last detector output, so
    that upstream's get_bbox runs unchanged while we can read the confidence it ignores."""

    def __init__(self, net):
        self.net = net
        self.last = None

    def setInput(self, *a, **kw):
        self.last = None
        return self.net.setInput(*a, **kw)

    def forward(self, *a, **kw):
        self.last = self.net.forward(*a, **kw)
        return self.last


class SilentFace:
    def __init__(self, root):
        root = os.path.abspath(root)
        sys.path.insert(0, root)
        import torch
        import cv2
        torch.set_num_threads(1)
        cv2.setNumThreads(1)
        from src.anti_spoof_predict import AntiSpoofPredict
        from src.generate_patches import CropImage
        from src.utility import parse_model_name

        class Cached(AntiSpoofPredict):
            # upstream predict() rebuilds and reloads the model on every call; keep one per file
            def __init__(self):
                self._models = {}
                super().__init__(0)
                self.device = torch.device("cpu")

            def _load_model(self, model_path):
                if model_path not in self._models:
                    super()._load_model(model_path)
                    self._models[model_path] = self.model
                self.model = self._models[model_path]

        cwd = os.getcwd()
        os.chdir(root)  # Detection.__init__ opens ./resources/detection_model/... relative to the cwd
        try:
            self.pred = Cached()
        finally:
            os.chdir(cwd)
        self.pred.detector = _RecordingNet(self.pred.detector)
        self.cropper = CropImage()
        model_dir = os.path.join(root, "resources", "anti_spoof_models")
        self.models = []
        for name in sorted(os.listdir(model_dir)):
            if not name.endswith(".pth"):
                continue
            h, w, _, scale = parse_model_name(name)
            self.models.append((os.path.join(model_dir, name), h, w, scale))
        if not self.models:
            raise SystemExit("no models in " + model_dir)

    def detect(self, img):
        """(upstream bbox or None, best confidence, found)."""
        bbox, conf = None, 0.0
        try:
            bbox = self.pred.get_bbox(img)
        except Exception:
            bbox = None  # e.g. a single-row detector output, which upstream cannot index
        out = self.pred.detector.last
        if out is not None:
            rows = np.asarray(out).reshape(-1, 7)
            if len(rows):
                conf = float(np.nanmax(rows[:, 2]))
        if bbox is not None and (bbox[2] <= 0 or bbox[3] <= 0):
            bbox = None  # CropImage would divide by zero
        # With no detection at all (none above the prototxt's 0.1), upstream returns [0, 0, 1, 1].
        found = bbox is not None and bbox[2] > 1 and bbox[3] > 1 and conf >= DET_CONF
        return bbox, conf, found

    def p_real(self, img, bbox):
        total = np.zeros((1, 3))
        for path, h, w, scale in self.models:
            patch = self.cropper.crop(org_img=img, bbox=bbox, scale=scale, out_w=w, out_h=h,
                                      crop=scale is not None)
            total += self.pred.predict(patch, path)
        return float(total[0][1] / len(self.models))

    def score_image(self, img):
        """-> (p_real, face_found, conf, p_real_upstream or None)."""
        bbox, conf, found = self.detect(img)
        up = self.p_real(img, bbox) if bbox is not None else None
        if found:
            return up, 1, conf, up
        whole = [0, 0, img.shape[1], img.shape[0]]
        return self.p_real(img, whole), 0, conf, up


# ----------------------------------------------------------------------------- media

def read_image(path):
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)  # BGR, EXIF orientation applied, like upstream test.py
    if img is None:
        from PIL import Image, ImageOps  # formats OpenCV cannot read
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            img = np.asarray(im)[:, :, ::-1].copy()
    return img


def _seconds(s):
    try:
        v = float(s)
        return v if math.isfinite(v) and v > 0 else 0.0
    except (TypeError, ValueError):
        return 0.0


def _rate(s):
    try:
        n, _, d = str(s).partition("/")
        v = float(n) / float(d or 1)
        return v if math.isfinite(v) and v > 0 else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        return 0.0


def probe_video(path):
    """Mirrors media/probe.go: first video stream, display size after rotation, duration, frame count."""
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                          "-show_format", "-select_streams", "v:0", "file:" + path],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    st = info["streams"][0]
    rot = 0
    for sd in st.get("side_data_list", []) or []:
        if "rotation" in sd:
            rot = int(round(float(sd["rotation"])))
    if not rot and "rotate" in st.get("tags", {}):
        rot = int(st["tags"]["rotate"])
    w, h = int(st["width"]), int(st["height"])
    if rot % 180 != 0:
        w, h = h, w
    dur = _seconds(st.get("duration")) or _seconds(info.get("format", {}).get("duration"))
    fps = _rate(st.get("avg_frame_rate"))
    if fps <= 0 or fps >= 1000:
        fps = _rate(st.get("r_frame_rate"))
    if fps >= 1000:
        fps = 0.0
    try:
        frames = int(st.get("nb_frames", 0))
    except ValueError:
        frames = 0
    if frames <= 0 and dur > 0 and fps > 0:
        frames = max(1, round(dur * fps))
    if dur <= 0 or frames <= 0:  # no duration in the header: count the packets, as scanPackets does
        pk = subprocess.run(["ffprobe", "-v", "error", "-select_streams", str(st["index"]),
                             "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0",
                             "file:" + path], check=True, capture_output=True, text=True).stdout
        count, start, end = 0, None, None
        for line in pk.splitlines():
            pts_s, _, dur_s = line.strip().partition(",")
            if not pts_s:
                continue
            count += 1
            try:
                pts = float(pts_s)
            except ValueError:
                continue
            if not math.isfinite(pts):
                continue
            e = pts + _seconds(dur_s.strip(","))
            start = pts if start is None else min(start, pts)
            end = e if end is None else max(end, e)
        if dur <= 0 and start is not None and end > start:
            dur = end - start
        frames = count
    return w, h, dur, frames, int(st["index"])


def video_frames(path, k):
    """Up to k frames, chosen like Bonafide's videoFrames: N equal time slots, first frame in each."""
    w, h, dur, frames, index = probe_video(path)
    if dur <= 0 or frames <= 0:
        raise RuntimeError("video without duration or frames")
    n = min(k, frames)
    s = min(1.0, MAX_FRAME_SIDE / max(w, h))  # fitSize: long side <= MaxFrameSide, aspect kept
    ow, oh = max(2, int(round(w * s)) & ~1), max(2, int(round(h * s)) & ~1)
    slots = repr(n / dur)

    def slot(x):
        return "floor((%s-start_t)*%s+0.001)" % (x, slots)

    sel = "select='gte({0},0)*lt({0},{1})*(isnan(prev_selected_t)+gt({0},{2}))'".format(
        slot("t"), n, slot("prev_selected_t"))
    vf = "%s,scale=%d:%d:flags=bilinear,format=bgr24" % (sel, ow, oh)
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-hide_banner", "-threads", "1",
                          "-i", "file:" + path, "-map", "0:%d" % index, "-an", "-sn", "-dn",
                          "-vf", vf, "-fps_mode", "passthrough", "-frames:v", str(n),
                          "-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"],
                         check=True, capture_output=True).stdout
    size = ow * oh * 3
    return [np.frombuffer(raw[i:i + size], np.uint8).reshape(oh, ow, 3).copy()
            for i in range(0, len(raw) - size + 1, size)]


def score_video(sf, path, k):
    """-> (p_real, face_found, frames_used, mean conf)."""
    frames = video_frames(path, k)
    if not frames:
        raise RuntimeError("no frame decoded")
    found, confs = [], []
    for img in frames:
        bbox, conf, ok = sf.detect(img)
        if ok:
            found.append(sf.p_real(img, bbox))
            confs.append(conf)
    if found:
        return float(np.mean(found)), 1, len(found), float(np.mean(confs))
    ps = [sf.p_real(f, [0, 0, f.shape[1], f.shape[0]]) for f in frames]
    return float(np.mean(ps)), 0, len(ps), 0.0


# ----------------------------------------------------------------------------- run

def guess_media(path):
    ext = os.path.splitext(path)[1].lower()
    if ext in VIDEO_EXT:
        return "video"
    return "image"


def media_map(manifest):
    """path -> media from /work/shared/devset/MANIFEST.tsv (or a MANIFEST.tsv beside the manifest)."""
    m = {}
    for cand in (os.path.join(os.path.dirname(os.path.abspath(manifest)), "MANIFEST.tsv"),
                 "/work/shared/devset/MANIFEST.tsv"):
        if os.path.isfile(cand):
            with open(cand, newline="") as f:
                for r in csv.DictReader(f, delimiter="\t"):
                    if r.get("media"):
                        m.setdefault(r["path"], r["media"])
    return m


def fmt(x):
    return "" if x is None else "%.6f" % x


def run(args):
    sf = SilentFace(args.silentface)
    base = args.root or os.path.dirname(os.path.abspath(args.manifest))
    medias = media_map(args.manifest)
    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if args.limit:
        rows = rows[:args.limit]
    t0 = time.time()
    not_found = 0
    tmp = args.out + ".part"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(COLUMNS)
        for i, r in enumerate(rows):
            path = r["path"]
            full = os.path.join(base, path)
            media = medias.get(path) or guess_media(path)
            out = {c: "" for c in COLUMNS}
            out.update(path=path, label=r.get("label", ""), species=r.get("species", ""),
                       subject=r.get("subject", ""), media=media)
            try:
                if media == "video":
                    p, ff, n, conf = score_video(sf, full, 50)
                    out.update(face_found=ff, p_attack=fmt(1 - p), frames_used=n, det_conf=fmt(conf))
                    for k in (25, 100):
                        pk, _, nk, _ = score_video(sf, full, k)
                        out["p_attack_f%d" % k] = fmt(1 - pk)
                else:
                    img = read_image(full)
                    p, ff, conf, up = sf.score_image(img)
                    out.update(face_found=ff, p_attack=fmt(1 - p), frames_used=1, det_conf=fmt(conf),
                               p_attack_upstream=fmt(None if up is None else 1 - up))
                if not out["face_found"]:
                    not_found += 1
            except Exception as e:  # keep going; the row says why
                out["error"] = ("%s: %s" % (type(e).__name__, e)).replace("\t", " ").replace("\n", " ")[:300]
                print("error:", path, out["error"], file=sys.stderr)
            w.writerow([out[c] for c in COLUMNS])
            if (i + 1) % 200 == 0:
                f.flush()
                el = time.time() - t0
                print("%d/%d  %.0fs  (%.1f ms/media)  no face: %d" % (i + 1, len(rows), el,
                      1000 * el / (i + 1), not_found), file=sys.stderr, flush=True)
    os.replace(tmp, args.out)
    print("done: %d media in %.1f s, face not found: %d" % (len(rows), time.time() - t0, not_found),
          file=sys.stderr)


# ----------------------------------------------------------------------------- summary

def auc(scores, labels):
    """P(attack score > live score), ties counting half (Mann-Whitney). labels: 1 = attack."""
    s = np.asarray(scores, float)
    y = np.asarray(labels, int)
    npos, nneg = int(y.sum()), int(len(y) - y.sum())
    if npos == 0 or nneg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ss = s[order]
    i = 0
    while i < len(ss):  # average ranks over ties
        j = i
        while j + 1 < len(ss) and ss[j + 1] == ss[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return (ranks[y == 1].sum() - npos * (npos + 1) / 2) / (npos * nneg)


def slice_stats(rows, key="p_attack"):
    rows = [r for r in rows if r.get(key) not in ("", None)]
    y = [1 if r["label"] == "attack" else 0 for r in rows]
    s = [float(r[key]) for r in rows]
    live = [si for si, yi in zip(s, y) if yi == 0]
    att = [si for si, yi in zip(s, y) if yi == 1]
    fr = sum(1 for x in live if x >= 0.5)
    fa = sum(1 for x in att if x < 0.5)
    return dict(n=len(rows), live=len(live), attack=len(att), auc=auc(s, y), err=fr + fa,
                bpcer=(fr / len(live)) if live else None, apcer=(fa / len(att)) if att else None,
                bp_n=fr, ap_n=fa,
                nf=sum(1 for r in rows if str(r.get("face_found")) == "0"))


def _f(x, pct=False):
    if x is None:
        return "–"
    return "%.1f%%" % (100 * x) if pct else "%.4f" % x


def summary(path, out_path, runtime_note=None):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    errs = [r for r in rows if r.get("error")]
    rows = [r for r in rows if not r.get("error") and r.get("p_attack")]
    L = []
    L.append("# Silent-Face-Anti-Spoofing on the development set\n")
    L.append("Scores: `%s` (%d media scored, %d with errors). p_attack = 1 - P(real), P(real) = mean of the "
             "two MiniFASNet softmaxes (2.7_80x80_MiniFASNetV2, 4_0_0_80x80_MiniFASNetV1SE). AUC: attack "
             "scored higher (ties count half). Errors, BPCER, APCER at p_attack >= 0.5 = attack. "
             "`no face`: Silent-Face's detector found no face with confidence >= 0.6; the whole "
             "image was used as the box.\n" % (path, len(rows), len(errs)))
    if runtime_note:
        L.append(runtime_note + "\n")
    head = "| slice | n | live | attack | AUC | errors@0.5 | BPCER | APCER | no face |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"

    def line(name, st):
        return "| %s | %d | %d | %d | %s | %d | %s | %s | %d |" % (
            name, st["n"], st["live"], st["attack"], _f(st["auc"]), st["err"],
            _f(st["bpcer"], True) + (" (%d)" % st["bp_n"] if st["live"] else ""),
            _f(st["apcer"], True) + (" (%d)" % st["ap_n"] if st["attack"] else ""), st["nf"])

    L.append("## By media\n")
    L.append(head)
    L.append(sep)
    L.append(line("**all**", slice_stats(rows)))
    for m in ("image", "chip", "video"):
        L.append(line("media=" + m, slice_stats([r for r in rows if r["media"] == m])))
    L.append("")
    L.append("## By source (first path component)\n")
    L.append(head)
    L.append(sep)
    for s in sorted({r["path"].split("/")[0] for r in rows}):
        sub = [r for r in rows if r["path"].split("/")[0] == s]
        media = ",".join(sorted({r["media"] for r in sub}))
        L.append(line("%s (%s)" % (s, media), slice_stats(sub)))
    L.append("")
    L.append("## APCER per attack species (BPCER over all live for reference)\n")
    L.append("| species | attacks | APCER | missed@0.5 | no face |")
    L.append("|---|---:|---:|---:|---:|")
    live = slice_stats([r for r in rows if r["label"] == "live"])
    for sp in sorted({r["species"] for r in rows if r["label"] == "attack"}):
        st = slice_stats([r for r in rows if r["label"] == "attack" and r["species"] == sp])
        L.append("| %s | %d | %s | %d | %d |" % (sp or "(none)", st["attack"], _f(st["apcer"], True),
                                                 st["ap_n"], st["nf"]))
    L.append("")
    L.append("BPCER (all live): %s = %d / %d.\n" % (_f(live["bpcer"], True), live["bp_n"], live["live"]))
    nf = [r for r in rows if str(r["face_found"]) == "0" and r["media"] != "video"]
    zero = sum(1 for r in nf if r.get("det_conf") and float(r["det_conf"]) == 0)
    L.append("No face (photos and chips): %d; of these %d with no detection at all (none above the "
             "prototxt's 0.1; upstream would score a [0, 0, 1, 1] box in the top-left corner) and %d "
             "with a best detection between 0.1 and 0.6. Videos with no face in any frame: %d.\n" % (
                 len(nf), zero, len(nf) - zero,
                 sum(1 for r in rows if str(r["face_found"]) == "0" and r["media"] == "video")))
    fs = [r for r in rows if str(r["face_found"]) == "1"]
    L.append("## Only media where the face was found\n")
    L.append(head)
    L.append(sep)
    L.append(line("all, face found", slice_stats(fs)))
    for m in ("image", "chip", "video"):
        L.append(line("media=" + m + ", face found", slice_stats([r for r in fs if r["media"] == m])))
    L.append("")
    ups = [r for r in rows if r.get("p_attack_upstream")]
    if ups:
        L.append("## Upstream behaviour (best detector box always, no 0.6 threshold), photos and chips\n")
        L.append("(`no face` here counts the media that the 0.6 threshold would reject; they are scored "
                 "with upstream's box all the same.)\n")
        L.append(head)
        L.append(sep)
        L.append(line("all photos+chips", slice_stats(ups, "p_attack_upstream")))
        for m in ("image", "chip"):
            L.append(line("media=" + m, slice_stats([r for r in ups if r["media"] == m], "p_attack_upstream")))
        L.append("")
    vids = [r for r in rows if r["media"] == "video"]
    if vids:
        L.append("## Videos: frames sampled\n")
        L.append("| frames | n | AUC | errors@0.5 |")
        L.append("|---|---:|---:|---:|")
        for k, key in (("25", "p_attack_f25"), ("50", "p_attack"), ("100", "p_attack_f100")):
            st = slice_stats(vids, key)
            L.append("| %s | %d | %s | %d |" % (k, st["n"], _f(st["auc"]), st["err"]))
        L.append("")
        L.append("| video | label | p_attack (50) | p_attack (25) | p_attack (100) | frames used | face found |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for r in vids:
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (r["path"], r["label"], r["p_attack"],
                     r["p_attack_f25"], r["p_attack_f100"], r["frames_used"], r["face_found"]))
        L.append("")
    if errs:
        L.append("## Errors\n")
        for r in errs:
            L.append("- `%s`: %s" % (r["path"], r["error"]))
        L.append("")
    text = "\n".join(L)
    if out_path:
        with open(out_path, "w") as f:
            f.write(text)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--silentface", help="Silent-Face-Anti-Spoofing checkout (never committed here)")
    ap.add_argument("--manifest", help="TSV: path, label, species, subject, tags (paths relative to it)")
    ap.add_argument("--out", help="scores TSV to write")
    ap.add_argument("--root", help="folder the manifest's paths are relative to (default: the manifest's)")
    ap.add_argument("--limit", type=int, default=0, help="score only the first N media (testing)")
    ap.add_argument("--summary", metavar="SCORES", help="summarise a scores TSV instead of scoring")
    ap.add_argument("--summary-out", help="write the summary (markdown) here too")
    ap.add_argument("--note", help="a line added to the summary (e.g. the runtime)")
    args = ap.parse_args()
    if args.summary:
        summary(args.summary, args.summary_out, args.note)
        return
    if not (args.silentface and args.manifest and args.out):
        ap.error("--silentface, --manifest and --out are required (or --summary SCORES)")
    try:
        import cv2  # noqa: F401  (Silent-Face reads media and runs its detector with OpenCV)
    except ImportError:
        sys.exit("silentface-compare.py: needs OpenCV for this Python: apt-get install python3-opencv "
                 "(and run it with /usr/bin/python3, where Debian's PyTorch is)")
    run(args)


if __name__ == "__main__":
    main()
