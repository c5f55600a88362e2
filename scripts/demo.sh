#!/usr/bin/env bash
# The main job without a SAM 2 checkpoint: builds sam2-amg, writes the synthetic test model and
# segments the sample images in tests/data/images into masks.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh -DSAM2AMG_BUILD_TESTS=OFF
build/apps/sam2-amg/sam2-amg make-synthetic-model build/synthetic.pt
build/apps/sam2-amg/sam2-amg --model build/synthetic.pt --input tests/data/images --out masks.json --overwrite
