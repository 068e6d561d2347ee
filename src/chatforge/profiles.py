"""Profiles: what a bot is for, as defaults written into a new bot's chatforge.yaml."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chatforge.config import Settings

PROFILES: dict[str, dict[str, Any]] = {
    "general": {},
    "assistant": {
        "retrieve": {"top_k": 5},
        "llm": {"temperature": 0.2},
        "chat": {
            "system_prompt": (
                "You are a precise, friendly assistant. Answer only from the numbered passages, "
                "cite each claim as [n], and say so when the passages do not cover the question."
            ),
            "unknown_answer": "I don't know: my documents don't cover that.",
            "unknown_answers": {"fr": "Je ne sais pas : mes documents n'en parlent pas."},
        },
    },
    "teacher": {
        "retrieve": {"top_k": 6, "mmr": True},
        "llm": {"temperature": 0.4},
        "chat": {
            "system_prompt": (
                "You are a patient teacher. Explain step by step in plain words, using the "
                "numbered course passages and citing them as [n]."
            ),
            "shape": "steps",
            "check_question": True,
            "unknown_answer": (
                "That isn't in the course material I have, so I can't teach it reliably."
            ),
            "unknown_answers": {
                "fr": "Ce n'est pas dans mes supports de cours, je ne peux donc pas "
                "l'enseigner de façon fiable."
            },
            "history_turns": 8,
        },
        "memory": {"recall_k": 4, "summarize_every": 4},
    },
    "faq": {
        "ingest": {"chunk_tokens": 160},
        "retrieve": {"top_k": 3},
        "llm": {"temperature": 0.0, "max_tokens": 160},
        "chat": {
            "system_prompt": (
                "You answer customer questions from the numbered FAQ entries. Reuse the FAQ's "
                "exact wording, never change a number or a name, and cite the entry as [n]."
            ),
            "shape": "short",
            "sentences": 2,
            "unknown_answer": "Sorry, that question is not in our FAQ. Please contact support.",
            "unknown_answers": {
                "fr": "Désolé, cette question n'est pas dans notre FAQ. Contactez le support."
            },
            "history_turns": 2,
            "min_score": 0.35,
        },
        "memory": {"enabled": False},
    },
    "personal": {
        "retrieve": {"top_k": 5},
        "llm": {"temperature": 0.5},
        "chat": {
            "system_prompt": (
                "You speak as the user, in the first person ('I', 'my'), from their own notes "
                "and chats: they are your notes. Be warm and brief, and cite the note as [n]."
            ),
            "unknown_answer": "I can't find that in your notes.",
            "unknown_answers": {"fr": "Je ne trouve pas cela dans vos notes."},
            "history_turns": 8,
            "min_score": 0.2,
        },
        "memory": {"recall_k": 6, "summarize_every": 4},
    },
}

LANGUAGES: dict[str, dict[str, Any]] = {
    "en": {},
    "fr": {"embed": {"model": "multilingual-e5-small"}},
    "auto": {"embed": {"model": "multilingual-e5-small"}},
}
"""`chatforge init --language`: what a bot whose documents and users speak it starts with.
English keeps MiniLM, faster on the same questions; French and mixed or unknown languages get
multilingual-e5-small, which matches a question to its passage across languages (figures and
reasons in docs/user-guide.md, Languages)."""

PROFILE_HELP = {
    "general": "a plain bot over your documents",
    "assistant": "a helpful assistant that answers from your documents and cites them",
    "teacher": "explains step by step, with varied sources (MMR) for broader context",
    "faq": "short exact answers from FAQ sheets; favours exact wording (BM25)",
    "personal": "a bot over your own notes and chat exports",
}


def settings_for(profile: str, language: str = "en") -> Settings:
    """Settings a new bot of this profile and language starts with (environment overrides
    ignored)."""
    data: dict[str, Any] = {"profile": profile, **PROFILES[profile]}
    for section, values in LANGUAGES[language].items():
        data[section] = {**data.get(section, {}), **values}
    return Settings.model_validate(data)


def render_yaml(settings: Settings) -> str:
    """chatforge.yaml with every key and a comment saying what it does."""
    profile = settings.profile
    lines = [
        f"# chatforge bot settings (profile: {profile} - {PROFILE_HELP.get(profile, '')})",
        "# Override any key for one run with CHATFORGE_<SECTION>__<KEY>,",
        "# e.g. CHATFORGE_RETRIEVE__TOP_K=8 chatforge search ...",
        f"profile: {profile}",
    ]
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if not isinstance(value, BaseModel):
            continue
        lines.append("")
        lines.append(f"{name}:")
        for key, sub in type(value).model_fields.items():
            if sub.description:
                lines.append(f"  # {sub.description}")
            dumped = _yaml_value(getattr(value, key))
            lines.append(f"  {key}: {dumped}")
    return "\n".join(lines) + "\n"


def _yaml_value(value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
