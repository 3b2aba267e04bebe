#!/usr/bin/env bash
# Single-speaker speech enhancement on WHAM! at 16 kHz, the SpeechT5 paper's SE setup; see
# ../README.md.  Not run here: no GPU, and WHAM! needs the licensed wsj0 (set WHAM and WSJ0 in db.sh).
#
# Stage 8 starts from the SpeechT5 base checkpoint converted to our format:
#   python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2s \
#       --input speecht5_base.pt --output downloads/speecht5_base_s2s.pth
# Its speech parts initialise the SE network (the text parts are left out).  Without the file,
# stage 8 trains from scratch (the paper's baseline: WER 10.9% against 8.9%).
#
# Stage 10 transcribes the enhanced, noisy and clean speech with an English ASR model: give one
# with --asr_model_zip (e.g. the zip of ../../librispeech_100/asr1) or --asr_exp.
set -euo pipefail

base_checkpoint=${SPEECHT5_BASE_CHECKPOINT:-downloads/speecht5_base_s2s.pth}
init=()
if [ -f "${base_checkpoint}" ]; then
    init=(--init_param "${base_checkpoint}::net:text_prenet.,text_decoder_prenet.,text_decoder_postnet.")
else
    echo "run.sh: no ${base_checkpoint}: stage 8 would train from scratch (see the top of run.sh to convert SpeechT5 base)" >&2
fi

./speecht5.sh \
    --task se \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --ngpu 1 \
    --local_data_opts "--task se --mode max" \
    "${init[@]}" \
    "$@"
