#!/usr/bin/env bash
# ASR smoke test on the mini AN4 subset (7 utterances); see ../README.md.
# All 13 stages with a very small network and two epochs (conf/train.yaml): it checks that the
# recipe runs from the archive to RESULTS.md and a packed model, not that the model learns.
#     ./run.sh --stage 1 --stop_stage 13 --nj 2 --inference_nj 1
set -euo pipefail

./speecht5.sh \
    --task asr \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --train_config conf/train.yaml \
    --inference_config conf/decode.yaml \
    --local_data_opts "--task asr" \
    "$@"
