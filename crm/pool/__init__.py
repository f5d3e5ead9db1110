"""The customer pool (公海): claim, assign, release, and the recycle rules."""
