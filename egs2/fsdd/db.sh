# Where the FSDD recipes find their corpus.  Set FSDD in your environment (or edit the default
# below) to use your own copy: the folder that holds recordings/ (a clone of the FSDD
# repository, for example).  When it is empty, local/data.sh downloads FSDD_URL (the
# repository as a tarball) into the recipe's downloads/ folder.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data/fsdd" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data/fsdd")
else
    __db_default=
fi
FSDD=${FSDD:-${__db_default}}
FSDD_URL=${FSDD_URL:-https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.tar.gz}
unset __db_root __db_default
