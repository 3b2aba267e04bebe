#!/usr/bin/env bash
# Speech translation on MuST-C, the SpeechT5 paper's ST setup (EN-DE; ./run.sh --tgt_lang fr for
# EN-FR); see ../README.md. Not run here: no GPU, and MuST-C needs a licence form (set MUST_C in db.sh).
#
# Stage 8 starts from the SpeechT5 base checkpoint converted to our format:
#   python -m espnet2_speecht5.bin.convert_checkpoint fairseq2ours --flavour pretrain --net s2t \
#       --input speecht5_base.pt --output downloads/speecht5_base_s2t.pth
# Its speech pre-net, encoder and decoder initialise the ST network; the text embedding (and so
# the tied output layer) is left out: the target subword vocabulary starts anew, as in the release.
# A pre-training zip of this toolkit works too: --pretrained_model <zip> (the same parts).
# Without either, stage 8 trains from scratch (the paper's baseline: 23.43 / 33.76 BLEU).
set -euo pipefail

tgt_lang=de
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tgt_lang) [ $# -ge 2 ] || { echo "ERROR: --tgt_lang needs a value (de or fr)" >&2; exit 1; }
                    tgt_lang=$2; shift 2 ;;
        *) args+=("$1"); shift ;;
    esac
done

base_checkpoint=${SPEECHT5_BASE_CHECKPOINT:-downloads/speecht5_base_s2t.pth}
init=()
if [ -f "${base_checkpoint}" ]; then
    init=(--init_param "${base_checkpoint}::net:text_decoder_prenet.,text_decoder_postnet.")
else
    echo "run.sh: no ${base_checkpoint}: stage 8 would train from scratch unless --pretrained_model is given (see the top of run.sh)" >&2
fi

./speecht5.sh \
    --task st \
    --train_set "train.en-${tgt_lang}" \
    --valid_set "dev.en-${tgt_lang}" \
    --test_sets "tst-COMMON.en-${tgt_lang} tst-HE.en-${tgt_lang}" \
    --token_type char \
    --tgt_token_type bpe \
    --tgt_bpemode unigram \
    --tgt_nbpe 8000 \
    --max_wav_duration 30 \
    --inference_model last10epochs.ave.pth \
    --ngpu 1 \
    --dumpdir "dump_${tgt_lang}" \
    --expdir "exp_${tgt_lang}" \
    --token_list_dir "data/token_list_${tgt_lang}" \
    --local_data_opts "--tgt_lang ${tgt_lang}" \
    "${init[@]}" \
    "${args[@]}"
