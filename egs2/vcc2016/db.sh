# Where the VCC 2016 recipes find their corpus.  Set VCC2016 in your environment (or edit the
# default below) to use your own copy: the folder that holds vcc2016_training/ (or that
# vcc2016_training folder itself).  When it is empty, local/data.sh downloads VCC2016_URL
# (the training set on Edinburgh DataShare, doi:10.7488/ds/1575) into the recipe's downloads/.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/vcc2016" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/vcc2016")
else
    __db_default=
fi
VCC2016=${VCC2016:-${__db_default}}
VCC2016_URL=${VCC2016_URL:-https://datashare.ed.ac.uk/bitstream/handle/10283/2211/vcc2016_training.zip}
unset __db_root __db_default
