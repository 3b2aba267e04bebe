"""Score enhanced speech: wide-band PESQ and STOI against the clean recordings, aligned first (see --help)."""

from espnet2_speecht5.bin.cli import run_main
from espnet2_speecht5.scoring.enhancement import main

if __name__ == "__main__":
    run_main(main)
