"""Personal chat exports (Discord, Telegram, WhatsApp, a Twitter/X archive), one module each.

The owner (`--me`, else the most frequent author) speaks as the assistant; everyone else as
the user. Messages are grouped into conversations by chat and cut into sessions at long
silences (see `chatforge.formats.rows.conversations`).
"""
