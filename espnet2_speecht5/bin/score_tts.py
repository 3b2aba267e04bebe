"""Score synthesised speech: MCD, the CER/WER of an ASR model on it, speaker similarity (see --help)."""

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.scoring.tts_scorer import main

if __name__ == "__main__":
    run_main(main)
