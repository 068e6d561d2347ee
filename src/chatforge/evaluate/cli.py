"""`chatforge eval`: perplexity of a model on a dataset, and fine-tuned vs prompted."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from chatforge.errors import ChatforgeError

app = typer.Typer(
    help="Measure models and bots: perplexity, retrieval, answers, fine-tuned vs prompted.",
    no_args_is_help=True,
)


@app.command()
def perplexity(
    model: Annotated[
        str, typer.Argument(help="Built-in name, GGUF, transformers folder or fine-tuned run.")
    ],
    dataset: Annotated[
        Path, typer.Argument(help="A dataset folder from `chatforge data prepare`.")
    ],
    split: Annotated[str, typer.Option(help="Which split to measure.")] = "validation",
    tokenizer: Annotated[
        str | None,
        typer.Option(help="Tokenize with this model's tokenizer (default: MODEL's own)."),
    ] = None,
    max_length: Annotated[int, typer.Option(help="Longest row in tokens.")] = 1024,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Token-weighted perplexity on the assistant (label) tokens of a split."""
    from chatforge.evaluate.perplexity import evaluate_perplexity

    result = evaluate_perplexity(model, dataset, split, max_length, tokenizer)
    if json_out:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        typer.echo(
            f"{model} on {dataset} [{split}]: perplexity {result['perplexity']:.3f} over "
            f"{result['tokens']} tokens in {result['rows']} rows"
        )


@app.command()
def compare(
    bot: Annotated[Path, typer.Option("--bot", help="The bot whose retrieval RAG uses.")],
    dataset: Annotated[Path, typer.Option(help="The prepared dataset the model was tuned on.")],
    finetuned: Annotated[
        Path | None,
        typer.Option(help="A `chatforge finetune` output (default: the bot's llm.model)."),
    ] = None,
    questions: Annotated[
        Path | None, typer.Option(help="JSONL of {question, answer} (default: validation).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Validation questions to ask at most.")] = 20,
    max_tokens: Annotated[int, typer.Option(help="Longest answer in tokens.")] = 96,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default: FINETUNED/compare).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Base prompted, base + RAG, fine-tuned, fine-tuned + RAG on the same questions."""
    from chatforge.evaluate.compare import compare as run_compare

    result = run_compare(bot, dataset, finetuned, questions, limit, out, max_tokens)
    if json_out:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    for r in result["configs"]:
        typer.echo(
            f"{r['config']:18} ppl {r['perplexity']:8.3f}  F1 {r['token_f1']:.3f}  "
            f"ROUGE-L {r['rouge_l']:.3f}  cosine {r['cosine']:.3f}  {r['latency_ms']:.0f} ms"
        )
    typer.echo(f"report: {result['report']}")


BotOpt = Annotated[
    Path | None,
    typer.Option(
        "--bot",
        help="Bot folder (default: current folder if it has chatforge.yaml, else $CHATFORGE_BOT).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only.")]
QuestionsArg = Annotated[
    Path | None,
    typer.Argument(
        help="JSONL or CSV of question, source(s), optional section and answer "
        "(default: the bot's tests/questions.jsonl).",
        show_default=False,
    ),
]
CompareOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--compare",
        help="Also measure the bot with this change: SECTION.KEY=VALUE (repeatable) or a "
        "YAML file of settings; the two are compared question by question.",
    ),
]
ReportOpt = Annotated[
    Path | None, typer.Option(help="HTML report path (default: BOT/reports/KIND.html).")
]


@app.command()
def retrieval(
    questions: QuestionsArg = None,
    bot: BotOpt = None,
    compare: CompareOpt = None,
    report: ReportOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """hit@k, recall@k, MRR and nDCG of the bot's search on labelled questions."""
    from chatforge.evaluate.eval_run import evaluate_bot

    result = evaluate_bot("retrieval", open_bot(bot), questions, compare or [], report)
    _print(result, json_out, ("hit@1", "hit@5", "recall@5", "mrr@10", "ndcg@10"))


@app.command()
def answers(
    questions: QuestionsArg = None,
    bot: BotOpt = None,
    compare: CompareOpt = None,
    report: ReportOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Token F1, ROUGE-L, citation precision, declined share and latency of the bot's answers."""
    from chatforge.evaluate.eval_run import evaluate_bot

    result = evaluate_bot("answers", open_bot(bot), questions, compare or [], report)
    _print(
        result, json_out, ("token_f1", "rouge_l", "citation_precision", "declined", "latency_ms")
    )


def open_bot(folder: Path | None):  # noqa: ANN201 - Bot, imported late to keep --help fast
    from chatforge.bot import Bot
    from chatforge.folders import find_bot_dir

    return Bot(find_bot_dir(folder))


def _print(result: dict, json_out: bool, keys: tuple[str, ...]) -> None:
    if json_out:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
        return
    for c in result["configs"]:
        m = c["metrics"]
        cells = "  ".join(f"{k} {'–' if m[k] is None else f'{m[k]:.3f}'}" for k in keys)
        typer.echo(f"{c['name']:16} n {m['n']:4}  {cells}")
    if test := result.get("test"):
        typer.echo(
            f"paired Wilcoxon on {test['metric']}: mean difference {test['mean_difference']:+.3f}"
            f", p = {test['p_value']:.3g}"
        )
    typer.echo(f"report: {result['report']}")


@app.command("generate-questions")
def generate_questions(
    bot: BotOpt = None,
    limit: Annotated[int, typer.Option(help="Chunks to write a question from, at most.")] = 50,
    check: Annotated[
        str,
        typer.Option(
            help="Keep a question only if the bot's search ranks its chunk: first, top5, or none."
        ),
    ] = "first",
    model: Annotated[
        str | None, typer.Option(help="The model that writes them (default: the bot's llm.model).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Test set to write (default: BOT/tests/questions.jsonl)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write questions from the bot's own chunks, labelled with their source, into its test set.

    Questions already in the file that were not generated (the user's own) are kept."""
    from chatforge.evaluate import questions as qs
    from chatforge.evaluate.generate_questions import generate_questions as run
    from chatforge.progress import CountProgress

    b = open_bot(bot)
    path = out or qs.default_file(b.folder)
    llm = b.llm if model is None else _open_model(model)
    with CountProgress("writing questions", enabled=not json_out) as progress:
        got, counts = run(b, llm, limit, check, progress.update)
    if not got:
        raise ChatforgeError(f"no question passed the {check} check ({counts}); try --check none")
    own = qs.save_generated(path, got)
    result = {"file": str(path), "generated": len(got), "kept_own": own, "counts": counts}
    if json_out:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        typer.echo(
            f"{len(got)} questions from {counts['chunks']} chunks written to {path} "
            f"({own} of yours kept); dropped: {counts['copied']} copied, "
            f"{counts['not found']} not found by the {check} check, {counts['empty']} empty"
        )


def _open_model(name: str):  # noqa: ANN202 - an LLM, imported late to keep --help fast
    from chatforge.llm import open_llm

    return open_llm(name, n_ctx=2048)
