"""Grounded answers: prompt building, the chat engine, conversations and memory."""
