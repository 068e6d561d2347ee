"""Profiles: what a bot is for, as defaults written into a new bot's chatforge.yaml."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chatforge.config import Settings

PROFILES: dict[str, dict[str, Any]] = {
    "general": {},
    "assistant": {"retrieve": {"top_k": 5}, "llm": {"temperature": 0.2}},
    "teacher": {"retrieve": {"top_k": 6, "mmr": True}, "llm": {"temperature": 0.4}},
    "faq": {
        "ingest": {"chunk_tokens": 160},
        "retrieve": {"top_k": 3, "lexical_weight": 1.2},
        "llm": {"temperature": 0.0},
    },
    "personal": {"retrieve": {"top_k": 5}, "llm": {"temperature": 0.5}},
}

PROFILE_HELP = {
    "general": "a plain bot over your documents",
    "assistant": "a helpful assistant that answers from your documents and cites them",
    "teacher": "explains step by step, with varied sources (MMR) for broader context",
    "faq": "short exact answers from FAQ sheets; favours exact wording (BM25)",
    "personal": "a bot over your own notes and chat exports",
}


def settings_for(profile: str) -> Settings:
    """Settings a new bot of this profile starts with (environment overrides ignored)."""
    data = {"profile": profile, **PROFILES[profile]}
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

    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()
