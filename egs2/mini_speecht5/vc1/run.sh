#!/usr/bin/env bash
# Parallel voice conversion between the synthetic corpus's voices (see ../README.md): trained on
# every ordered pair of each training sentence's four readers, tested on the corpus's listed pairs.
# Stage 10 transcribes the converted speech with the ASR model of ../asr1: run that recipe first
# (or pass --asr_exp DIR / --asr_model_zip ZIP).
set -euo pipefail

./speecht5.sh \
    --task vc \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --local_data_opts "--task vc --vc_train_pairs all" \
    --train_threads 2 \
    --score_args "--f0_method dio" \
    "$@"
