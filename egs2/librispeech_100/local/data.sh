#!/usr/bin/env bash
# Stage 1 of the LibriSpeech recipe: one Kaldi data directory per subset, named with
# underscores (train-clean-100 -> data/train_clean_100).  Run from egs2/librispeech_100/asr1:
#     local/data.sh
#     local/data.sh --subsets "dev-clean test-clean" --speaker_unit speaker
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

subsets="train-clean-100 dev-clean dev-other test-clean test-other"  # LibriSpeech subsets to prepare
speaker_unit=chapter  # chapter: speaker id <reader>-<chapter> (as Kaldi and ESPnet); speaker: <reader>
help_message="Usage: local/data.sh [--subsets '<subset> ...'] [--speaker_unit chapter|speaker]
Writes data/<subset with underscores> from \${LIBRISPEECH} (db.sh: ${LIBRISPEECH:-unset: download from ${LIBRISPEECH_URL}})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
case "${speaker_unit}" in
    chapter|speaker) ;;
    *) echo "ERROR: local/data.sh: --speaker_unit must be chapter or speaker, not '${speaker_unit}'" >&2; exit 1 ;;
esac

for subset in ${subsets}; do
    if [ -z "${LIBRISPEECH}" ]; then
        # Each openslr tarball unpacks to LibriSpeech/<subset>; it is fetched once (downloads/<subset>/.done).
        log "LIBRISPEECH is empty: fetching ${LIBRISPEECH_URL}/${subset}.tar.gz into $(pwd)/downloads/${subset}"
        root=$(download_and_unpack.py --expect "${subset}" "${LIBRISPEECH_URL}/${subset}.tar.gz" "downloads/${subset}") || {
            echo "ERROR: could not get LibriSpeech ${subset} from ${LIBRISPEECH_URL}/${subset}.tar.gz: download it yourself and set LIBRISPEECH (see db.sh)" >&2
            exit 1
        }
        src=${root}/${subset}
    elif [ -d "${LIBRISPEECH}/${subset}" ]; then
        src=${LIBRISPEECH}/${subset}
    elif [ -d "${LIBRISPEECH}/LibriSpeech/${subset}" ]; then
        src=${LIBRISPEECH}/LibriSpeech/${subset}
    else
        echo "ERROR: LIBRISPEECH=${LIBRISPEECH} has neither ${subset}/ nor LibriSpeech/${subset}/: set LIBRISPEECH to the folder holding the subsets (see db.sh)" >&2
        exit 1
    fi
    out=data/${subset//-/_}
    log "preparing ${out} from ${src}"
    python local/prepare_librispeech.py --src "${src}" --out "${out}" --speaker_unit "${speaker_unit}"
done
log "done: data directories are in $(pwd)/data"
