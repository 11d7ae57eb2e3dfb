#!/usr/bin/env bash
# The Python side of `bonafide train`: Debian's PyTorch (CPU), torchvision, onnx, numpy and Pillow
# for /usr/bin/python3, installed with apt when missing (as root). Nothing else is downloaded.
# `make test` runs it so that the training smoke test and the passive models' reference test run.
set -euo pipefail
say() { echo "train-deps: $*" >&2; }
py=${BONAFIDE_PYTHON:-/usr/bin/python3}
check() { "$py" -c 'import torch, torchvision, onnx, numpy, PIL' >/dev/null 2>&1; }
if check; then
  say "PyTorch $("$py" -c 'import torch; print(torch.__version__)') is ready for $py"
  exit 0
fi
pkgs="python3-torch python3-torchvision python3-onnx python3-numpy python3-pil"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing $pkgs with apt-get (about 1 GB, once)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null) \
    || { say "apt-get could not install $pkgs; install these Debian packages by hand"; exit 1; }
elif [ "${CI:-}" = true ]; then
  say "PyTorch is missing for $py and this is not root: install the Debian packages $pkgs"; exit 1
else
  say "PyTorch is missing for $py: install the Debian packages $pkgs (sudo apt-get install $pkgs); the training tests will be skipped"
  exit 0
fi
check || { say "$py still cannot import torch, torchvision, onnx, numpy and PIL after the install"; exit 1; }
say "PyTorch $("$py" -c 'import torch; print(torch.__version__)') is ready for $py"
