#!/usr/bin/env bash
# Stage 1 of the AN4 recipe: data/{train,dev,test} from CMU AN4 (by default the 7-utterance
# subset that ESPnet uses for smoke tests; see ../README.md).  The tarball is unpacked into
# the recipe's downloads/ folder.  Test is an4_test; dev is held out of an4_train by speaker.
# Run from egs2/an4/asr1:
#     local/data.sh --task asr
set -euo pipefail

log() { echo "$(date '+%Y-%m-%dT%H:%M:%S') (local/data.sh) $*" >&2; }

. ./path.sh
. ./db.sh

task=asr               # asr (the only task)
dev_speaker_step=10    # every N-th training speaker, counting from the last, goes to dev
help_message="Usage: local/data.sh [--task asr] [--dev_speaker_step N]
Writes data/train, data/dev and data/test from \${AN4} (db.sh: ${AN4:-unset})."
. utils/parse_options.sh

if [ $# -ne 0 ]; then echo "ERROR: local/data.sh takes no positional arguments (got: $*)" >&2; exit 1; fi
if [ "${task}" != asr ]; then echo "ERROR: local/data.sh: --task must be asr, not '${task}'" >&2; exit 1; fi

# AN4 may be an unpacked an4/ folder, a tarball, or a folder holding the tarball; when it is
# empty, the mini AN4 tarball is downloaded.  Tarballs are unpacked once into downloads/an4.
an4_root=
archive=
if [ -z "${AN4}" ]; then
    log "AN4 is empty (no ../shared/data/mini_an4): fetching ${AN4_URL} into $(pwd)/downloads"
    archive=${AN4_URL}
elif [ -f "${AN4}/etc/an4_train.transcription" ]; then
    an4_root=${AN4}
elif [ -f "${AN4}/an4/etc/an4_train.transcription" ]; then
    an4_root=${AN4}/an4
elif [ -f "${AN4}" ]; then
    archive=${AN4}
elif [ -f "${AN4}/downloads.tar.gz" ]; then
    archive=${AN4}/downloads.tar.gz
elif [ -f "${AN4}/an4_sphere.tar.gz" ]; then
    archive=${AN4}/an4_sphere.tar.gz
else
    echo "ERROR: AN4=${AN4} is neither an an4/ folder, nor a tarball, nor a folder with downloads.tar.gz or an4_sphere.tar.gz: set AN4 (see db.sh)" >&2
    exit 1
fi
if [ -z "${an4_root}" ]; then
    an4_root=$(download_and_unpack.py --expect etc/an4_train.transcription "${archive}" downloads/an4) || {
        echo "ERROR: could not get AN4 from ${archive}: set AN4 to an AN4 tarball or an unpacked an4/ folder (see db.sh)" >&2
        exit 1
    }
fi

log "preparing data/{train,dev,test} from ${an4_root}"
python local/prepare_an4.py --an4_root "${an4_root}" --out data --dev_speaker_step "${dev_speaker_step}"
log "done: data directories are in $(pwd)/data"
