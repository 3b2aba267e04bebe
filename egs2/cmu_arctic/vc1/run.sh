#!/usr/bin/env bash
# Parallel voice conversion on CMU ARCTIC (bdl, clb, rms, slt; 932/100/100 prompts) at the
# SpeechT5 paper's setup; see ../README.md.  Not run here: no GPU and no CMU ARCTIC copy on
# this machine.
#
# Stage 8 starts from the SpeechT5 base checkpoint converted to our format (the paper's
# MCD 5.93 / 5.87 dB for bdl->slt / clb->slt):
#   python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2s \
#       --input speecht5_base.pt --output downloads/speecht5_base_s2s.pth
# Its speech-encoder pre-net, encoder, speech-decoder pre-net, decoder and speech-decoder
# post-net initialise the VC network; the text parts (text-encoder pre-net, text-decoder pre-net
# and post-net) are left out, so a conversion of another net (e.g. --net s2t or t2s) loads its
# speech parts only.  Without the file, stage 8 trains from scratch (the paper's 6.26 / 6.16 dB).
set -euo pipefail

base_checkpoint=${SPEECHT5_BASE_CHECKPOINT:-downloads/speecht5_base_s2s.pth}
init=()
if [ -f "${base_checkpoint}" ]; then
    init=(--init_param "${base_checkpoint}::net:text_prenet.,text_decoder_prenet.,text_decoder_postnet.")
else
    echo "run.sh: no ${base_checkpoint}: stage 8 would train from scratch (see the top of run.sh to convert SpeechT5 base)" >&2
fi

# Pairs and split: see local/data.sh (defaults: train and dev on all 12 ordered pairs of
# bdl, clb, rms, slt; test on bdl:slt and clb:slt; 100 dev and 100 test prompts).
./speecht5.sh \
    --task vc \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --ngpu 1 \
    --local_data_opts "--task vc --train_pairs all --test_pairs bdl:slt,clb:slt" \
    "${init[@]}" \
    "$@"
