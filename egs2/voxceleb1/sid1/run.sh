#!/usr/bin/env bash
# Closed-set speaker identification over the 1,251 VoxCeleb1 speakers (the official
# identification split) at the paper's setup; see ../README.md.  Not run here: there is no
# VoxCeleb1 on this machine.
#
# Stage 8 starts from the SpeechT5 base checkpoint converted to our format (the paper's 96.49%):
#   python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2t \
#       --input speecht5_base.pt --output downloads/speecht5_base_s2t.pth
# Its speech pre-net, encoder and decoder initialise the SID network; the text pre-net and
# post-net are left out. Without the file, stage 8 trains from scratch (the paper's 91.92%).
set -euo pipefail

base_checkpoint=${SPEECHT5_BASE_CHECKPOINT:-downloads/speecht5_base_s2t.pth}
init=()
if [ -f "${base_checkpoint}" ]; then
    init=(--init_param "${base_checkpoint}::net:text_decoder_prenet.,text_decoder_postnet.")
else
    echo "run.sh: no ${base_checkpoint}: stage 8 would train from scratch (see the top of run.sh to convert SpeechT5 base)" >&2
fi

./speecht5.sh \
    --task sid \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type word \
    --ngpu 1 \
    --local_data_opts "--task sid" \
    "${init[@]}" \
    "$@"
