# Where the WHAM! recipe finds its corpus.  WHAM! is the noise of the WHAM! release mixed into
# wsj0-2mix by WHAM!'s own scripts (create_wham_from_scratch.py --fs 16k --mode max), which need
# the licensed wsj0 corpus (LDC93S6A); neither can be downloaded here.  Set:
#     WHAM=<the folder that holds wav16k/max/{tr,cv,tt}/{mix_single,s1}/>
#     WSJ0=<the wsj0 release> (its transcrp/dots/**/*.dot give the transcripts; empty: no CER/WER)
WHAM=${WHAM:-}
WSJ0=${WSJ0:-}
