"""Training sets: every kind of source a user has, turned into chat-format conversations."""
