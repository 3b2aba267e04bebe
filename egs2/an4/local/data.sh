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

# fetch <url> <file>: download with curl or wget, leaving no partial file behind.
fetch() {
    mkdir -p "$(dirname "$2")"
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2.part" "$1" || { rm -f "$2.part"; return 1; }
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2.part" "$1" || { rm -f "$2.part"; return 1; }
    else
        echo "local/data.sh: neither curl nor wget is installed" >&2
        return 1
    fi
    mv "$2.part" "$2"
}

# unpack <tarball>: unpack into downloads/ so that the corpus is downloads/an4 (a leading
# downloads/ folder in the tarball, as in ESPnet's mini AN4, is dropped).
unpack() {
    local tarball=$1 top strip=0
    top=$(tar -tzf "${tarball}" | awk -F/ 'NR == 1 {print $1}') || return 1
    [ "${top}" = downloads ] && strip=1
    mkdir -p downloads
    rm -rf downloads/an4
    tar -xzf "${tarball}" -C downloads --strip-components="${strip}" || return 1
    [ -f downloads/an4/etc/an4_train.transcription ] || {
        echo "local/data.sh: ${tarball} has no an4/etc/an4_train.transcription" >&2
        return 1
    }
}

an4_root=
tarball=
if [ -z "${AN4}" ]; then
    tarball=downloads/an4.tar.gz
    if [ ! -f "${tarball}" ]; then
        log "AN4 is empty (no ../shared/data/mini_an4): downloading ${AN4_URL} into $(pwd)/downloads"
        if ! fetch "${AN4_URL}" "${tarball}"; then
            echo "ERROR: could not download AN4 from ${AN4_URL}: download it yourself and set AN4 to the tarball or its folder (see db.sh)" >&2
            exit 1
        fi
    fi
elif [ -f "${AN4}/etc/an4_train.transcription" ]; then
    an4_root=${AN4}
elif [ -f "${AN4}/an4/etc/an4_train.transcription" ]; then
    an4_root=${AN4}/an4
elif [ -f "${AN4}" ]; then
    tarball=${AN4}
elif [ -f "${AN4}/downloads.tar.gz" ]; then
    tarball=${AN4}/downloads.tar.gz
elif [ -f "${AN4}/an4_sphere.tar.gz" ]; then
    tarball=${AN4}/an4_sphere.tar.gz
else
    echo "ERROR: AN4=${AN4} is neither an an4/ folder, nor a tarball, nor a folder with downloads.tar.gz or an4_sphere.tar.gz: set AN4 (see db.sh)" >&2
    exit 1
fi

if [ -z "${an4_root}" ]; then
    tarball=$(readlink -f "${tarball}")
    done_file=downloads/an4.done
    if [ ! -f "${done_file}" ] || [ "$(cat "${done_file}")" != "${tarball}" ] || [ ! -d downloads/an4 ]; then
        log "unpacking ${tarball} into $(pwd)/downloads"
        if ! unpack "${tarball}"; then
            echo "ERROR: could not unpack ${tarball}: set AN4 to an AN4 tarball or an unpacked an4/ folder (see db.sh)" >&2
            exit 1
        fi
        echo "${tarball}" >"${done_file}"
    fi
    an4_root=$(pwd)/downloads/an4
fi

log "preparing data/{train,dev,test} from ${an4_root}"
python local/prepare_an4.py --an4_root "${an4_root}" --out data --dev_speaker_step "${dev_speaker_step}"
log "done: data directories are in $(pwd)/data"
