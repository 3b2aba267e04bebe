# Where the cathy recipes find their corpus.  Set CATHY_ARCTIC in your environment (or edit the
# default below) to use your own copy: a folder with `text` and `wav16k/`, or a checkout of
# the upstream repository (with `data/`).  When it is empty, local/data.sh downloads
# CATHY_ARCTIC_URL into the recipe's downloads/ folder.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/cathy_arctic" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/cathy_arctic")
else
    __db_default=
fi
CATHY_ARCTIC=${CATHY_ARCTIC:-${__db_default}}
CATHY_ARCTIC_URL=${CATHY_ARCTIC_URL:-https://github.com/rhasspy/dataset-voice-cathy/archive/refs/heads/master.tar.gz}
unset __db_root __db_default
