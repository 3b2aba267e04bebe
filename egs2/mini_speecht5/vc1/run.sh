#!/usr/bin/env bash
# Parallel voice conversion between the synthetic corpus's voices.
set -euo pipefail

./speecht5.sh \
    --task vc \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --local_data_opts "--task vc" \
    "$@"
