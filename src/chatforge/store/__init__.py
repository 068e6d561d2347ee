"""Persistent memory: SQLite holds the truth, FAISS a derived vector index."""
