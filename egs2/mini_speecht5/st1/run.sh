#!/usr/bin/env bash
# English speech to German text on the synthetic offline corpus; ./run.sh --tgt_lang fr for French.
# Each language has its own dump_<lang>/, exp_<lang>/ and data/token_list_<lang>/; stage 1
# rewrites data/{train,dev,test} for the language it is given.
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

./speecht5.sh \
    --task st \
    --train_set train \
    --valid_set dev \
    --test_sets "dev test" \
    --token_type char \
    --tgt_token_type char \
    --inference_model valid.acc.best.pth \
    --dumpdir "dump_${tgt_lang}" \
    --expdir "exp_${tgt_lang}" \
    --token_list_dir "data/token_list_${tgt_lang}" \
    --local_data_opts "--task st --tgt_lang ${tgt_lang}" \
    "${args[@]}"
