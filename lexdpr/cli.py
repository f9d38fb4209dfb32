"""The `lex-dpr` command: parses arguments and dispatches to the stage modules, nothing else.

Data-stage verbs forward their arguments untouched to the stage module's own parser
(`lex-dpr data pairs --help` == `python -m lexdpr.data_processing.make_pairs --help`), so each flag is
defined in exactly one place.
"""

from __future__ import annotations

import importlib
import sys

import typer

from lexdpr.errors import LexDprError
from lexdpr.stage_cli import stderr_console

app = typer.Typer(
    name="lex-dpr",
    help="Fine-tune and evaluate bi-encoder retrievers on Korean legal text (law.go.kr).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="The data stages: raw JSON → passages → pairs → corpus.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
_STAGE_MODULES = {
    "passages": "lexdpr.data_processing.preprocess_auto",
    "pairs": "lexdpr.data_processing.make_pairs",
    "corpus": "lexdpr.data_processing.merge_corpus",
}


def _forward(stage: str, ctx: typer.Context) -> None:
    module = importlib.import_module(_STAGE_MODULES[stage])
    raise typer.Exit(module.main(list(ctx.args)))


@data_app.command("passages", context_settings=_FORWARD)
def data_passages(ctx: typer.Context) -> None:
    """Laws and admin rules → passage JSONL (flags of preprocess_auto; try --help)."""
    _forward("passages", ctx)


@data_app.command("pairs", context_settings=_FORWARD)
def data_pairs(ctx: typer.Context) -> None:
    """Precedents → query–passage pairs with hard negatives (flags of make_pairs; try --help)."""
    _forward("pairs", ctx)


@data_app.command("corpus", context_settings=_FORWARD)
def data_corpus(ctx: typer.Context) -> None:
    """Passage files → merged corpus (flags of merge_corpus; try --help)."""
    _forward("corpus", ctx)


@app.command("eval", context_settings=_FORWARD)
def evaluate(ctx: typer.Context) -> None:
    """Retrieval metrics (NDCG/Recall@k, MRR@10) of a model or BM25 on eval pairs over the corpus (try --help)."""
    from lexdpr.evaluation import eval_cli

    raise typer.Exit(eval_cli.main(list(ctx.args)))


def main() -> None:
    try:
        app()
    except LexDprError as exc:
        stderr_console().print(f"[red]error:[/red] {exc}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
