"""The lab: small language models trained side by side to show how they work."""
