"""Serving a bot over HTTP: the OpenAI-compatible API, the native API and the web UI."""
