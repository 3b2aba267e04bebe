# Where the CMU ARCTIC recipe finds its corpus.  Set CMU_ARCTIC in your environment (or edit the
# default below) to the folder that holds one unpacked release per speaker:
#     ${CMU_ARCTIC}/cmu_us_bdl_arctic/{wav/arctic_a0001.wav,...,etc/txt.done.data}
#     ${CMU_ARCTIC}/cmu_us_clb_arctic/...   (and rms, slt for the paper's setup)
# The default is ../shared/data/cmu_arctic beside the repository when that folder exists, and
# empty otherwise.  When it is empty, local/data.sh downloads the speakers it needs from
# CMU_ARCTIC_URL (festvox.org: <url>/cmu_us_<spk>_arctic-0.95-release.tar.bz2, about 100 MB
# each) into the recipe's downloads/ and uses that copy.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/cmu_arctic" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/cmu_arctic")
else
    __db_default=
fi
CMU_ARCTIC=${CMU_ARCTIC:-${__db_default}}
CMU_ARCTIC_URL=${CMU_ARCTIC_URL:-http://festvox.org/cmu_arctic/cmu_arctic/packed}
unset __db_root __db_default
