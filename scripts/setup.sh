#!/usr/bin/env bash
# Create .venv and install sciffusion into it (idempotent; a second run only re-checks).
#   bash scripts/setup.sh          core + docking + video (enough for the demo and the CLI)
#   bash scripts/setup.sh test     + test tools, sampler peers (diffusers, k-diffusion),
#                                  AutoDock Vina tool chain and the highway-env simulator
# torch is pinned to the 2.13.0 CPU wheel first so that pip never pulls a multi-GB CUDA build;
# on a GPU machine install the torch build you want before running this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null
.venv/bin/python -c "import torch" 2>/dev/null || $PIP install "torch==2.13.0"
extras=""
if [ "${1:-}" = "test" ]; then extras="[test,bench,vina,driving]"; fi
$PIP install -e ".${extras}"
if [ "${1:-}" = "test" ]; then
  # k-diffusion's metadata requires torchvision (breaks the CPU wheel); its sampling module needs none.
  .venv/bin/python -c "import importlib.util as u; raise SystemExit(u.find_spec('k_diffusion') is None)" 2>/dev/null \
    || $PIP install --no-deps "k-diffusion==0.1.1.post1"
fi
echo "sciffusion installed in .venv ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
