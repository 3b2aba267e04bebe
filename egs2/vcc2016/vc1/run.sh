#!/usr/bin/env bash
# Parallel voice conversion on VCC 2016 (source speakers to target speakers); see ../README.md.
# The corpus has no transcripts: stage 10 reports MCD and speaker similarity, no CER.
set -euo pipefail

./speecht5.sh \
    --task vc \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --local_data_opts "--task vc" \
    --score_args "--f0_method dio" \
    "$@"
