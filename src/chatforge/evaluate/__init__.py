"""Measuring models: perplexity on a dataset, and fine-tuned vs prompted answers."""
