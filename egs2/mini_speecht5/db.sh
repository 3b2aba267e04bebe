# Where the mini_speecht5 recipes find their corpus.  Nothing is downloaded: local/data.sh
# generates the corpus (espeak-ng voices, project-made noise) into MINI_SPEECHT5 when it is
# missing.  Set MINI_SPEECHT5 in your environment to keep it somewhere else.
__db_here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
MINI_SPEECHT5=${MINI_SPEECHT5:-${__db_here}/downloads/mini_speecht5}
unset __db_here
