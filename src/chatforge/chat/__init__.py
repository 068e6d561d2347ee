"""Grounded answers: prompt building, the chat engine, conversations and memory.

`Bot.ask` / `Bot.stream` are the way in; `Answer` and `Source` are what comes back.
"""

from chatforge.chat.answer import Answer, Source

__all__ = ["Answer", "Source"]
