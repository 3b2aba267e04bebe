#!/usr/bin/env bash
# Joint speech/text pre-training on the real speech and text at hand (see ../README.md): about
# 2.4 hours of recordings by 24 speakers without transcripts, k-means labels of MFCC
# (stage 6), and 42k English sentences.  Fine-tune ../../cathy/asr1 from the zip of stage 12:
#   (cd ../../cathy/asr1 && ./run.sh --pretrained_model ../../local_real/pretrain1/exp/<exp>/<exp>_<model>.zip)
set -euo pipefail

./speecht5.sh \
    --task pretrain \
    --train_set train \
    --valid_set dev \
    --test_sets "dev" \
    --token_type char \
    --pretrain_text_set train_text \
    --n_clusters 100 \
    "$@"
