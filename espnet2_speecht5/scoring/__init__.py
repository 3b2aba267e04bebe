"""Scoring: sclite error rates."""
