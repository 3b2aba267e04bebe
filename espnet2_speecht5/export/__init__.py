"""Packing and exporting trained models."""
