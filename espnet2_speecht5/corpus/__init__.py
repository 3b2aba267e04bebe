"""The project's own offline corpus: template sentences, espeak-ng voices, generated noise.

``sentences`` writes English sentences with German and French renderings, ``synth`` reads them
with espeak-ng voices, ``noise`` makes noise and mixes it at a chosen SNR, and ``mini`` puts
everything together into the ``egs2/mini_speecht5`` corpus.
"""
