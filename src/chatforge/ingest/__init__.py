"""Turning files into documents and chunks: loaders per format, chunking, the pipeline."""
