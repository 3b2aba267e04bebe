#!/usr/bin/env bash
# Single-speaker English ASR on the cathy corpus (CMU ARCTIC prompts); see ../README.md.
set -euo pipefail

./speecht5.sh \
    --task asr \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --train_threads 2 \
    --speed_perturb_factors "0.9 1.0 1.1" \
    --local_data_opts "--task asr" \
    "$@"
