# Where the VoxCeleb1 recipe finds its corpus.  Set VOXCELEB1 in your environment (or edit the
# default below) to the folder that holds wav/<speaker>/<video>/<utt>.wav (the unpacked VoxCeleb1
# dev and test audio together).  The corpus cannot be downloaded by the recipe: it needs
# registration at https://www.robots.ox.ac.uk/~vgg/data/voxceleb/ (see ../README.md).
# The default is ../shared/data/voxceleb1 beside the repository when that folder exists.
# VOXCELEB1_SPLIT_URL: the official identification split, used when ${VOXCELEB1}/iden_split.txt
# does not exist (local/data.sh saves it as downloads/iden_split.txt).
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/voxceleb1" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/voxceleb1")
else
    __db_default=
fi
VOXCELEB1=${VOXCELEB1:-${__db_default}}
VOXCELEB1_SPLIT_URL=${VOXCELEB1_SPLIT_URL:-https://www.robots.ox.ac.uk/~vgg/data/voxceleb/meta/iden_split.txt}
unset __db_root __db_default
