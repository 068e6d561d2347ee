"""Agent mode: the model answers by calling the bot's tools, one JSON step at a time."""
