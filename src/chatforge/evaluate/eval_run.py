"""`eval retrieval` and `eval answers` end to end: questions, one or two configurations of the
bot, the paired test between them, the HTML report and the JSON result.

A second configuration (`--compare`) is the bot's settings with changes: `SECTION.KEY=VALUE`
pairs (e.g. `retrieve.top_k=8`, `chat.mode=extractive`, `llm.model=RUN` for a fine-tuned
model, answering through the same path as `ask`) or a YAML file of sections laid over
them. One that changes `embed.model` is measured on a temporary copy of the bot, re-embedded
with that model; the bot itself is never changed.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatforge.errors import ConfigError
from chatforge.evaluate import questions as qs

if TYPE_CHECKING:
    from chatforge.bot import Bot
    from chatforge.config import Settings


def changed_settings(base: Settings, specs: Sequence[str]) -> tuple[Settings, str]:
    """`base` with the changes of `specs` (KEY=VALUE pairs or YAML files), and a name for it."""
    import yaml

    from chatforge.config import Settings

    data = base.model_dump()
    for spec in specs:
        if "=" in spec and not Path(spec).is_file():
            key, _, value = spec.partition("=")
            section, _, name = key.strip().partition(".")
            if section not in data or not isinstance(data[section], dict) or not name:
                raise ConfigError(f"--compare {spec}: unknown setting `{key}`; use SECTION.KEY")
            if name not in data[section]:
                raise ConfigError(f"--compare {spec}: unknown setting `{key}`")
            data[section][name] = yaml.safe_load(value) if value.strip() else value
            if key.strip() == "llm.model":  # a `chatforge finetune` run names its served model
                from chatforge.models import finetuned_folder, served_path

                run = finetuned_folder(value)
                data[section][name] = str(served_path(run).resolve()) if run else value
            continue
        try:
            over = yaml.safe_load(Path(spec).read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(
                f"--compare {spec}: not SECTION.KEY=VALUE nor a readable YAML file ({e.strerror})"
            ) from None
        except yaml.YAMLError:
            raise ConfigError(f"--compare {spec}: not valid YAML") from None
        if not isinstance(over, dict):
            raise ConfigError(f"--compare {spec}: expected sections like `retrieve:`")
        for section, values in over.items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section].update(values)
            else:
                data[section] = values
    try:
        return Settings(**data), " ".join(Path(s).name if "=" not in s else s for s in specs)
    except ValueError as e:
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"--compare: setting `{key}`: {first['msg'].lower()}") from None


@contextmanager
def variant_bot(bot: Bot, settings: Settings) -> Iterator[Bot]:
    """The bot with `settings`; another embedding model gets a re-embedded temporary copy."""
    from chatforge.bot import Bot

    if settings.embed.model == bot.settings.embed.model:
        embedder = bot.embedder if settings.embed == bot.settings.embed else None
        yield Bot(bot.folder, settings, embedder=embedder, store=bot.store)
        return
    tmp = Path(tempfile.mkdtemp(prefix="chatforge-compare-"))
    try:
        shutil.copytree(bot.data_dir, tmp / "data", ignore=shutil.ignore_patterns("*.lock"))
        shutil.copy(bot.folder / "chatforge.yaml", tmp / "chatforge.yaml")
        other = Bot(tmp, settings)
        other.reindex(reembed=True)
        yield other
        other.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def paired_test(a: list[float], b: list[float], metric: str) -> dict[str, Any]:
    """Wilcoxon signed-rank test (scipy) on per-question scores of the same questions."""
    from scipy.stats import wilcoxon

    diffs = [y - x for x, y in zip(a, b, strict=True)]
    p = float(wilcoxon(a, b, zero_method="zsplit").pvalue) if any(diffs) else 1.0
    mean = statistics.fmean(diffs) if diffs else 0.0
    return {"metric": metric, "n": len(diffs), "mean_difference": mean, "p_value": p}


def run_eval(
    bot: Bot,
    questions: list[qs.Question],
    measure: Callable[[Bot, list[qs.Question]], dict[str, Any]],
    compare: Sequence[str],
    key_metric: str,
) -> dict[str, Any]:
    """`measure` on the bot as configured and, with `compare`, on the changed configuration."""
    configs = [{"name": "as configured", **measure(bot, questions)}]
    if compare:
        settings, name = changed_settings(bot.settings, compare)
        with variant_bot(bot, settings) as other:
            configs.append({"name": name, **measure(other, questions)})
    result: dict[str, Any] = {"configs": configs}
    if len(configs) == 2:
        a, b = ([r[key_metric] or 0.0 for r in c["questions"]] for c in configs)
        result["test"] = paired_test(a, b, key_metric)
    return result


def report_path(bot: Bot, given: Path | None, kind: str) -> Path:
    return given or bot.folder / "reports" / f"{kind}.html"


def evaluate_bot(
    kind: str, bot: Bot, path: Path | None, compare: Sequence[str], report: Path | None
) -> dict[str, Any]:
    """`eval retrieval` or `eval answers`: measure, compare, write the report; the result."""
    from chatforge.evaluate.html_report import write_html

    where = qs.find_questions(bot.folder, path)
    questions = qs.label(bot.store, qs.read_questions(where), where)
    if kind == "retrieval":
        from chatforge.evaluate.retrieval_eval import METRICS, evaluate_retrieval

        questions = [q for q in questions if q.sources]  # unanswerable ones have nothing to find
        result = run_eval(bot, questions, evaluate_retrieval, compare, "mrr@10")
        cols = ["line", "question", "expected", "rank", "found", "generated", "kind"]
        failed = _missed
        plot = METRICS
    else:
        from chatforge.evaluate.answers_eval import METRICS, evaluate_answers

        result = run_eval(bot, questions, evaluate_answers, compare, "token_f1")
        cols = ["line", "question", "expected", "answer", "mode", "token_f1", "rouge_l",
                "citation_precision", "declined", "generated"]  # fmt: skip
        failed = _poor
        plot = METRICS[:-1]
    generated = sum(q.generated for q in questions)
    result["about"] = (
        f"{len(questions)} questions ({generated} generated) from {where}, bot {bot.folder}"
    )
    out = report_path(bot, report, kind)
    result["report"] = str(write_html(out, f"{kind.capitalize()} of {bot.folder.name}", result,
                                      METRICS, cols, failed, plot))  # fmt: skip
    return result


def _missed(row: dict[str, Any]) -> bool:
    return row["rank"] is None or row["rank"] > 5


def _poor(row: dict[str, Any]) -> bool:
    return bool(row["declined"]) or (row["citation_precision"] or 0.0) < 0.5
