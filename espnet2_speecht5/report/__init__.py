"""Reports: RESULTS.md."""
