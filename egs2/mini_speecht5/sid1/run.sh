#!/usr/bin/env bash
# Closed-set speaker identification over the synthetic corpus's voices.
set -euo pipefail

./speecht5.sh \
    --task sid \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type word \
    --local_data_opts "--task sid" \
    "$@"
