"""Decoding on top of the networks: greedy text and mel generation, and ESPnet beam-search scorers.

* :mod:`~espnet2_speecht5.search.greedy`: greedy speech-to-text and mel generation for TTS / VC;
* :mod:`~espnet2_speecht5.search.asr_scorer`: the text decoder as an ESPnet beam-search scorer;
* :mod:`~espnet2_speecht5.search.ctc_prefix_scorer`: CTC prefix scoring with the time recursion as a scan.
"""
