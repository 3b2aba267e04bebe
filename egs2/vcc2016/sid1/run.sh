#!/usr/bin/env bash
# Closed-set speaker identification over the six VCC 2016 speakers; see ../README.md.
set -euo pipefail

./speecht5.sh \
    --task sid \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type word \
    --local_data_opts "--task sid" \
    "$@"
