#!/usr/bin/env bash
# Speech enhancement: noisy copies of the synthetic corpus (generated noise, known SNRs) to clean speech.
set -euo pipefail

./speecht5.sh \
    --task se \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --local_data_opts "--task se" \
    "$@"
