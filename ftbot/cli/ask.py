"""`ftbot ask`, `eval`, `demo`: answering questions."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ftbot.cli.app import Context, app, console, friendly_errors
from ftbot.cli.ingest import ingest_paths
from ftbot.cli.train import train_in_foreground

if TYPE_CHECKING:
    from ftbot.answering.answer import Answerer, AnswerResult


EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
DEMO_INPUTS = ("handbook", "faq.csv", "support_faq.md", "support_transcripts.jsonl")
DEMO_QUESTIONS = (
    "How many vacation days do full-time employees get?",
    "Where do I report a lost laptop?",
    "How much is the yearly learning budget?",
    "What does the Business plan cost per month?",
    "What is the capital of Australia?",
)


@app.command()
def ask(
    question: Annotated[list[str], typer.Argument(help="The question, or - to read one per line from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Answer questions with the active model and retrieval; prints each answer and its sources."""
    with friendly_errors():
        ctx = Context()
        questions = _questions(question)
        answerer = make_answerer(ctx)
        for text in questions:
            print_answer(answerer.answer(text), as_json)


def _questions(words: list[str]) -> Iterator[str]:
    if words == ["-"]:
        return (line.strip() for line in sys.stdin if line.strip())
    return iter([" ".join(words)])


def make_answerer(ctx: Context, **options: Any) -> Answerer:
    from ftbot.answering.answer import Answerer

    with console.status("loading models..."):
        return Answerer(ctx.settings, ctx.db, **options)


def print_answer(result: AnswerResult, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "question": result.question,
                    "answer": result.answer,
                    "sources": result.sources,
                    "model_version": result.model_version,
                    "latency_ms": round(result.latency_ms, 1),
                }
            ),
            flush=True,
        )
        return
    console.print(f"[bold]Q:[/bold] {result.question}")
    console.print(f"[bold]A:[/bold] {result.answer}")
    sources = ", ".join(result.sources) if result.sources else "none"
    console.print(f"[dim]sources: {sources} · model {result.model_version} · {result.latency_ms:.0f} ms[/dim]\n")


@app.command("eval")
def evaluate(
    file: Annotated[
        Path, typer.Argument(help='JSONL lines of {"question", "must": [regex, ...]} or {"question", "expected"}')
    ],
    baseline: Annotated[bool, typer.Option(help="Also score the base model, with and without retrieval.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print every answer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object with every score.")] = False,
) -> None:
    """Accuracy on the same questions and retrieval: the tuned version, the base model with retrieval (no
    adapter) and the base model alone; and retrieval recall (the key facts were in the context)."""
    with friendly_errors():
        from trainer.evaluate import read_eval_file

        ctx = Context()
        items = list(read_eval_file(file))
        modes = {"tuned + retrieval": {"use_adapter": True, "use_retrieval": True}}
        if baseline:
            modes["base + retrieval"] = {"use_adapter": False, "use_retrieval": True}
            modes["base, no retrieval"] = {"use_adapter": False, "use_retrieval": False}
        rows = [_score(ctx, items, label, verbose and not as_json, **options) for label, options in modes.items()]
        if as_json:
            print(json.dumps({"file": str(file), "questions": len(items), "scores": rows}, indent=2))
            return
        title = f"{file.name}: {len(items)} questions"
        table = Table("", "accuracy", "right", "retrieval recall", "model", title=title)
        for row in rows:
            recall = row["retrieval_recall"]
            table.add_row(
                row["mode"],
                f"{row['accuracy']:.1%}",
                f"{row['right']}/{len(items)}",
                "-" if recall is None else f"{recall:.1%}",
                row["model"],
            )
        console.print(table)


def _score(ctx: Context, items: list, label: str, verbose: bool, **options: bool) -> dict[str, Any]:
    from trainer.evaluate import Graded, accuracy, evaluate, retrieval_recall

    answerer = make_answerer(ctx, store=False, **options)

    def answer(question: str) -> tuple[str, list[str] | None]:
        result = answerer.answer(question)
        return result.answer, (result.contexts if options["use_retrieval"] else None)

    def show(graded: Graded) -> None:
        if verbose:
            mark = "[green]✓[/green]" if graded.correct else "[red]✗[/red]"
            found = {None: "", True: " [dim](fact in context)[/dim]", False: " [dim](fact not in context)[/dim]"}
            console.print(f"{mark} {label}: {graded.item.question} → {graded.answer}{found[graded.fact_in_context]}")
            console.print(f"   [dim]key facts: {graded.item.key_facts}[/dim]")

    with console.status(f"evaluating {label} ({answerer.generator.version})..."):
        graded = evaluate(items, answer, show)
    return {
        "mode": label,
        "model": answerer.generator.version,
        "accuracy": accuracy(graded),
        "right": sum(g.correct for g in graded),
        "retrieval_recall": retrieval_recall(graded),
        "answers": [
            {"question": g.item.question, "answer": g.answer, "correct": g.correct, "in_context": g.fact_in_context}
            for g in graded
        ],
    }


@app.command()
def demo(examples: Annotated[Path, typer.Option(help="The demo company's data.")] = EXAMPLES_DIR) -> None:
    """Ingest the bundled fictional company, train, and answer a few questions."""
    with friendly_errors():
        ctx = Context()
        console.rule("1. ingest (anonymized at the boundary)")
        ingest_paths(ctx, [examples / name for name in DEMO_INPUTS])
        console.rule("2. train a LoRA adapter")
        if not train_in_foreground(ctx):
            raise typer.Exit(1)
        console.rule("3. ask")
        answerer = make_answerer(ctx)
        for question in DEMO_QUESTIONS:
            print_answer(answerer.answer(question, channel="demo"), as_json=False)
        console.rule("4. in Slack (the local Slack stand-in)")
        from bot.local_demo import slack_scene

        slack_scene(ctx.settings, ctx.db, answerer, list(DEMO_QUESTIONS[:2]), console.print)
        console.print("\nTalk to the bot yourself: [bold]make serve[/bold], then open http://127.0.0.1:3999/")
