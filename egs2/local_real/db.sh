# Where the local_real recipes find their speech and text.  LOCAL_REAL_DATA is a folder laid out
# as ../shared/data beside the repository (the default when it exists): cathy_arctic/, vcc2016/,
# fsdd/, librispeech_test_other_10spk/, ljspeech_32/ and text/.  CATHY_ARCTIC (the cathy corpus,
# for its training split) defaults to its cathy_arctic/.  Nothing is downloaded.
__db_root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
if [ -d "${__db_root}/../shared/data" ]; then
    __db_default=$(readlink -f "${__db_root}/../shared/data")
else
    __db_default=
fi
LOCAL_REAL_DATA=${LOCAL_REAL_DATA:-${__db_default}}
CATHY_ARCTIC=${CATHY_ARCTIC:-${LOCAL_REAL_DATA:+${LOCAL_REAL_DATA}/cathy_arctic}}
unset __db_root __db_default
