# Where the AN4 recipe finds its corpus.  Set AN4 in your environment (or edit the default
# below) to one of:
#   - a folder holding downloads.tar.gz (ESPnet's mini AN4) or an4_sphere.tar.gz (the full AN4);
#   - such a tarball itself;
#   - an unpacked an4/ folder (with etc/ and wav/).
# When it is empty, local/data.sh downloads AN4_URL (the mini AN4 tarball from ESPnet's
# repository) into the recipe's downloads/ folder.  For the full corpus, set
# AN4_URL=http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz instead.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/mini_an4" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/mini_an4")
else
    __db_default=
fi
AN4=${AN4:-${__db_default}}
AN4_URL=${AN4_URL:-https://github.com/espnet/espnet/raw/master/egs/mini_an4/asr1/downloads.tar.gz}
unset __db_root __db_default
