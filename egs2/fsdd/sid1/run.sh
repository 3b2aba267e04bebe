#!/usr/bin/env bash
# Closed-set speaker identification over the FSDD speakers (8 kHz audio, resampled in stage 3); see ../README.md.
set -euo pipefail

./speecht5.sh \
    --task sid \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type word \
    --local_data_opts "--task sid" \
    "$@"
