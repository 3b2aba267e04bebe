# Where the LibriSpeech pre-training recipe finds its data: the audio as ../librispeech_100 does
# (LIBRISPEECH, or a download from LIBRISPEECH_URL), plus the text corpus of the pre-training.
# LIBRISPEECH_LM_TEXT: librispeech-lm-norm.txt or .txt.gz, the normalised LibriSpeech LM corpus
# (https://www.openslr.org/11, about 40M sentences, 1.4 GB gzipped, the text SpeechT5 was pre-trained on).
__db_here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck disable=SC1091
. "${__db_here}/../librispeech_100/db.sh"
LIBRISPEECH_LM_TEXT=${LIBRISPEECH_LM_TEXT:-}
LIBRISPEECH_LM_URL=${LIBRISPEECH_LM_URL:-https://www.openslr.org/resources/11/librispeech-lm-norm.txt.gz}
unset __db_here
