"""Kaldi-style data directories and audio input/output."""
