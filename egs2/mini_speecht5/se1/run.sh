#!/usr/bin/env bash
# Speech enhancement on the synthetic corpus (see ../README.md): noisy copies made with generated
# noise at 0/5/10/15 dB to the clean speech; training has three noisy copies of each utterance
# (the corpus's and two more at other SNRs and noise kinds: 1,800 pairs). test_realnoise holds the test speech mixed with noise
# recordings from ../shared/data/noise (MINI_SPEECHT5_NOISE in ../db.sh) at the same SNRs: noise
# of kinds the model never heard in training. Stage 10 transcribes the enhanced, noisy and clean
# speech with the ASR model of ../asr1: run that recipe first (or pass --asr_exp DIR / --asr_model_zip ZIP).
# Stage 8 fine-tunes the mini pre-training model of ../pretrain1 (run it first, or pass
# --pretrained_model ZIP; --train_config conf/train_scratch.yaml --pretrained_model "" trains from scratch).
set -euo pipefail

pretrained=../pretrain1/exp/pretrain_train_char/pretrain_train_char_valid.acc_mlm.ave.zip

./speecht5.sh \
    --task se \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test test_realnoise" \
    --local_data_opts "--task se --se_train_copies 2" \
    --train_threads 2 \
    --pretrained_model "${pretrained}" \
    "$@"
