"""Bot folders and settings: profiles, YAML, environment overrides, clear errors."""

from __future__ import annotations

import pytest
import yaml

from chatforge.bot import Bot
from chatforge.config import Settings
from chatforge.errors import ConfigError
from chatforge.folders import find_bot_dir
from chatforge.profiles import PROFILES


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_init_writes_documented_yaml_per_profile(tmp_path, profile):
    bot = Bot.init(tmp_path / profile, profile)
    text = (bot.folder / "chatforge.yaml").read_text()
    assert (bot.folder / "data").is_dir()
    assert "# hits returned" in text  # every key carries its description
    data = yaml.safe_load(text)
    assert data["profile"] == profile
    assert set(data) >= {"embed", "ingest", "store", "retrieve", "llm"}
    assert Settings.load(bot.folder).profile == profile


def test_profiles_differ_where_it_matters(tmp_path):
    faq = Bot.init(tmp_path / "faq", "faq").settings
    teacher = Bot.init(tmp_path / "teacher", "teacher").settings
    assert faq.retrieve.top_k == 3 and teacher.retrieve.mmr


def test_init_refuses_unknown_profile_and_existing_bot(tmp_path):
    with pytest.raises(ConfigError, match="unknown profile 'pirate'"):
        Bot.init(tmp_path / "x", "pirate")
    Bot.init(tmp_path / "y")
    with pytest.raises(ConfigError, match="already exists"):
        Bot.init(tmp_path / "y")


def test_environment_overrides_file(tmp_path, monkeypatch):
    bot = Bot.init(tmp_path / "b", "faq")
    monkeypatch.setenv("CHATFORGE_RETRIEVE__TOP_K", "8")
    s = Settings.load(bot.folder)
    assert s.retrieve.top_k == 8
    assert s.ingest.chunk_tokens == 160  # the rest of the file still applies


def test_unknown_key_in_file_names_key_and_file(tmp_path):
    bot = Bot.init(tmp_path / "b")
    path = bot.folder / "chatforge.yaml"
    path.write_text(path.read_text().replace("  top_k: 5", "  top_kk: 5"))
    with pytest.raises(ConfigError) as e:
        Settings.load(bot.folder)
    assert "retrieve.top_kk" in str(e.value) and str(path) in str(e.value)


def test_ill_typed_env_names_variable(tmp_path, monkeypatch):
    bot = Bot.init(tmp_path / "b")
    monkeypatch.setenv("CHATFORGE_RETRIEVE__TOP_K", "many")
    with pytest.raises(ConfigError) as e:
        Settings.load(bot.folder)
    assert "CHATFORGE_RETRIEVE__TOP_K" in str(e.value) and "retrieve.top_k" in str(e.value)


def test_ill_typed_value_in_file(tmp_path):
    bot = Bot.init(tmp_path / "b")
    path = bot.folder / "chatforge.yaml"
    path.write_text(path.read_text().replace("  dense: true", "  dense: sometimes"))
    with pytest.raises(ConfigError, match=r"chatforge.yaml: setting `retrieve.dense`"):
        Settings.load(bot.folder)


def test_bot_folder_resolution(tmp_path, monkeypatch):
    a = Bot.init(tmp_path / "a").folder
    b = Bot.init(tmp_path / "b").folder
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CHATFORGE_BOT", raising=False)
    with pytest.raises(ConfigError, match="no bot folder"):
        find_bot_dir(None)
    monkeypatch.setenv("CHATFORGE_BOT", str(b))
    assert find_bot_dir(None) == b
    monkeypatch.chdir(a)
    assert find_bot_dir(None).resolve() == a.resolve()  # the current folder wins over the env
    assert find_bot_dir(b) == b  # --bot wins over both


def test_a_bot_yaml_from_before_unknown_answers_still_loads(tmp_path):
    bot = Bot.init(tmp_path / "b", "faq")
    path = bot.folder / "chatforge.yaml"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(x for x in lines if "unknown_answers" not in x) + "\n")
    chat = Settings.load(bot.folder).chat
    assert chat.unknown_answer.startswith("Sorry, that question is not in our FAQ")
    assert chat.unknown_reply("fr").startswith("Je ne sais pas")


@pytest.mark.parametrize("key", ["de", "en"])
def test_an_unknown_answer_in_an_unknown_language_is_refused(tmp_path, key):
    bot = Bot.init(tmp_path / "b")
    path = bot.folder / "chatforge.yaml"
    path.write_text(
        path.read_text().replace("  unknown_answers: {fr:", f"  unknown_answers: {{{key}:")
    )
    with pytest.raises(ConfigError) as e:
        Settings.load(bot.folder)
    message = str(e.value)
    assert "chat.unknown_answers" in message and f"'{key}'" in message and "use fr" in message
    assert "\n" not in message


def test_the_french_unknown_answer_from_the_environment(tmp_path, monkeypatch):
    bot = Bot.init(tmp_path / "b", "personal")
    monkeypatch.setenv("CHATFORGE_CHAT__UNKNOWN_ANSWERS__FR", "Pas dans vos notes.")
    chat = Settings.load(bot.folder).chat
    assert chat.unknown_reply("fr") == "Pas dans vos notes."
    assert chat.unknown_reply("en") == "I can't find that in your notes."
