#!/usr/bin/env bash
# Stage 1 of LibriSpeech pre-training (run from egs2/librispeech/pretrain1):
#   data/train_960            the 960 h of training speech (transcripts unused by pre-training)
#   data/<dev and test sets>  dev_clean dev_other test_clean test_other
#   data/train_960_text       the text corpus: the LibriSpeech LM corpus (LIBRISPEECH_LM_TEXT, see db.sh),
#                             or with --text_source transcripts the 960 h transcripts
#   data/<set>_text           held-out text of each dev and test set: its transcripts
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

text_source=lm        # lm: the LibriSpeech LM corpus; transcripts: the training transcripts
max_sentences=        # lm: keep the first N sentences (empty: all, about 40M)
speaker_unit=chapter
help_message="Usage: local/data.sh [--text_source lm|transcripts] [--max_sentences N] [--speaker_unit chapter|speaker]"
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${text_source}" in
    lm|transcripts) ;;
    *) echo "ERROR: local/data.sh: --text_source must be lm or transcripts, not '${text_source}'" >&2; exit 1 ;;
esac

train_subsets="train-clean-100 train-clean-360 train-other-500"
eval_subsets="dev-clean dev-other test-clean test-other"
local/prepare_subsets.sh --subsets "${train_subsets} ${eval_subsets}" --speaker_unit "${speaker_unit}"

log "combining ${train_subsets} into data/train_960"
combine_data.py data/train_960 data/train_clean_100 data/train_clean_360 data/train_other_500

for subset in ${eval_subsets}; do
    dset=${subset//-/_}
    python local/prepare_text.py transcripts --src "data/${dset}/text" --out "data/${dset}_text/text"
done

if [ "${text_source}" = transcripts ]; then
    python local/prepare_text.py transcripts --src data/train_960/text --out data/train_960_text/text
else
    lm_text=${LIBRISPEECH_LM_TEXT}
    if [ -z "${lm_text}" ]; then
        lm_text=downloads/librispeech-lm-norm.txt.gz
        if [ ! -f "${lm_text}" ]; then
            log "LIBRISPEECH_LM_TEXT is empty: fetching ${LIBRISPEECH_LM_URL} (1.4 GB) into ${lm_text}"
            mkdir -p downloads
            wget --continue -O "${lm_text}.part" "${LIBRISPEECH_LM_URL}" && mv "${lm_text}.part" "${lm_text}" || {
                echo "ERROR: could not get ${LIBRISPEECH_LM_URL}: download it yourself and set LIBRISPEECH_LM_TEXT (see db.sh), or pass --local_data_opts '--text_source transcripts'" >&2
                exit 1
            }
        fi
    fi
    python local/prepare_text.py lm --src "${lm_text}" --out data/train_960_text/text ${max_sentences:+--max_sentences "${max_sentences}"}
fi
log "done: data directories are in $(pwd)/data"
