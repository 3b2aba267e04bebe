#!/usr/bin/env bash
# Stage 1 of the LibriTTS recipe: data/train_460 (train-clean-100 + train-clean-360),
# data/dev_clean and data/test_clean, with the normalized transcripts.  Run from egs2/libritts/tts1:
#     local/data.sh                       # LibriTTS already in ${LIBRITTS} (db.sh)
#     local/data.sh --download true       # fetch the missing subsets from openslr.org (resource 60)
#     local/data.sh --lowercase false     # keep the case of the normalized text
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

download=false   # true: download and unpack the subsets that ${LIBRITTS} lacks
lowercase=true   # lower-case the transcripts (the token list is then smaller)
xvectors=${LIBRITTS_XVECTORS}  # folder of <LibriTTS id>.npy x-vectors to link into data/xvector_npy
help_message="Usage: local/data.sh [--download true|false] [--lowercase true|false] [--xvectors DIR]
Writes data/train_460, data/dev_clean and data/test_clean from \${LIBRITTS} (db.sh: ${LIBRITTS})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi

# data directory -> the LibriTTS subsets it is made of
declare -A sets=(
    [train_460]="train-clean-100 train-clean-360"
    [dev_clean]="dev-clean"
    [test_clean]="test-clean"
)
subsets="train-clean-100 train-clean-360 dev-clean test-clean"

# Every subset must be there (or be downloaded) before anything is written.
for subset in ${subsets}; do
    [ -d "${LIBRITTS}/${subset}" ] && continue
    if ! "${download}"; then
        echo "ERROR: LIBRITTS=${LIBRITTS} has no ${subset}/: set LIBRITTS to the folder holding the LibriTTS subsets (see db.sh), or pass --download true to fetch it from ${LIBRITTS_URL}" >&2
        exit 1
    fi
    # Each tarball unpacks to LibriTTS/<subset>; it is fetched once (downloads/libritts_<subset>/.done)
    # and linked as ${LIBRITTS}/<subset>.
    log "fetching ${LIBRITTS_URL}/${subset}.tar.gz into $(pwd)/downloads/libritts_${subset}"
    root=$(download_and_unpack.py --expect "${subset}" "${LIBRITTS_URL}/${subset}.tar.gz" "downloads/libritts_${subset}") || {
        echo "ERROR: could not get LibriTTS ${subset} from ${LIBRITTS_URL}/${subset}.tar.gz: download it yourself and set LIBRITTS (see db.sh)" >&2
        exit 1
    }
    mkdir -p "${LIBRITTS}"
    ln -sfn "${root}/${subset}" "${LIBRITTS}/${subset}"
done

for dset in train_460 dev_clean test_clean; do
    srcs=()
    for subset in ${sets[${dset}]}; do srcs+=("${LIBRITTS}/${subset}"); done
    log "preparing data/${dset} from ${srcs[*]}"
    python local/prepare_libritts.py --out "data/${dset}" --lowercase "${lowercase}" "${srcs[@]}"
done

if [ -n "${xvectors}" ]; then
    log "linking the x-vectors of ${xvectors} under our utterance ids"
    python local/link_xvectors.py --src "${xvectors}" --out data/xvector_npy data/train_460 data/dev_clean data/test_clean
fi
log "done: data directories are in $(pwd)/data"
