"""`brandmon score|rescore|train|predict|eval` and `brandmon models list|activate`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from brandmon.cli.common import console, fail, settings_of, writing
from brandmon.cli.output import Format, format_option, print_frame, print_json
from pipeline.store import Store

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from brandmon.cli.common import err_console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def _date(v: str | None, name: str):
    if v is None:
        return None
    from brandmon.cli.common import fail

    try:
        return datetime.fromisoformat(v)
    except ValueError:
        fail(f"{name}: {v!r} is not a date (use YYYY-MM-DD or an ISO timestamp)", 2)


@cli.command("score")
def score(
    ctx: typer.Context,
    brand: list[str] | None = typer.Option(None, "--brand", "-b", help="Only these brand ids."),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Score on N local worker processes (Dask); 0: as the workers settings say (default: here).",
    ),
) -> None:
    """Score sentiment + intent of mentions the active model has not scored yet."""
    from flows.workers import score_stage
    from models.registry import ModelError

    s = settings_of(ctx)
    if workers:
        s.workers.local = workers
    store = Store.from_settings(s)
    with writing(s, "score"), _progress() as prog:
        task = prog.add_task("scoring", total=None)
        try:
            counts = score_stage(
                s,
                store,
                brands=brand or None,
                progress=lambda done, total: prog.update(task, completed=done, total=total),
            )
        except ModelError as e:
            fail(str(e))
    print_json(counts)


@cli.command("rescore")
def rescore_cmd(
    ctx: typer.Context,
    model: str = typer.Option(..., "--model", "-m", help="A scorer dir or a name under models/weights."),
    brand: list[str] | None = typer.Option(None, "--brand", "-b"),
    since: str | None = typer.Option(None, help="Posts from this date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, help="Posts before this date."),
    activate: bool = typer.Option(False, "--activate", help="Make this model the one everybody sees."),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Score on N local worker processes (Dask); 0: as the workers settings say (default: here).",
    ),
) -> None:
    """Re-score stored mentions with another model version; earlier versions' scores are kept."""
    from flows.workers import dask_batches
    from models.registry import ModelError
    from models.scoring import rescore

    s = settings_of(ctx)
    if workers:
        s.workers.local = workers
    store = Store.from_settings(s)
    with writing(s, "rescore"), _progress() as prog:
        task = prog.add_task("re-scoring", total=None)
        try:
            counts = rescore(
                s,
                store,
                model,
                brand or None,
                _date(since, "--since"),
                _date(until, "--until"),
                activate=activate,
                progress=lambda done, total: prog.update(task, completed=done, total=total),
                run_batches=dask_batches(s) if s.workers.enabled else None,
            )
        except ModelError as e:
            fail(str(e))
    print_json(counts)


models_app = typer.Typer(help="Scoring model versions: list them, pick the active one.", no_args_is_help=True)


@models_app.command("list")
def models_list(ctx: typer.Context, fmt: Format = format_option()) -> None:
    """Registered scoring models, their versions, which one is active, how many scores each has."""
    from models.registry import list_models

    print_frame(list_models(Store.from_settings(settings_of(ctx))), fmt, title="scoring models")


@models_app.command("activate")
def models_activate(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="Model name (see `brandmon models list`)."),
    version: str | None = typer.Option(None, "--version", "-v", help="Version or a prefix (default newest)."),
) -> None:
    """Make one model version the active scorer (what the dashboard and queue show)."""
    from models.registry import ModelError, activate

    try:
        m, v = activate(Store.from_settings(settings_of(ctx)), model, version)
    except ModelError as e:
        fail(str(e))
    console.print(f"active scoring model: {m} {v}")


@cli.command("train")
def train_cmd(
    ctx: typer.Context,
    task: str = typer.Option(..., "--task", help="sentiment or intent"),
    data: list[Path] | None = typer.Option(
        None, "--data", help="Labelled CSV (text,label[,source,target,split]); repeatable."
    ),
    corrections: bool = typer.Option(False, "--corrections", help="Add the analysts' corrections from the database."),
    out: Path = typer.Option(..., "--out", help="Directory for the new scorer."),
    init: str | None = typer.Option(
        None,
        "--init",
        help="Scorer to start from (default: the shipped one; 'none': the backbone alone, every task untrained).",
    ),
    epochs: int = typer.Option(4, help="Maximum epochs (early stopping on the held-out split)."),
    max_train: int | None = typer.Option(None, help="Cap on training rows (CPU budget)."),
    max_tokens: int = typer.Option(64, help="Tokens per input window."),
    branch: str | None = typer.Option(
        None,
        "--branch",
        help="Read another task's stack after N of its layers, e.g. sentiment@1 (fewer layers per mention), "
        "or 'none' for a stack of its own; default: as in the initial scorer.",
    ),
    head_width: int | None = typer.Option(
        None,
        "--head-width",
        min=0,
        help="Hidden width of an MLP head (e.g. 256 for a task reading another's whole stack), 0 for a linear "
        "head; default: as in the initial scorer.",
    ),
    head_members: int | None = typer.Option(
        None,
        "--head-members",
        min=1,
        help="An ensemble of N MLP heads, each trained on its own loss, averaged in logits (steadier than one); "
        "default: as in the initial scorer.",
    ),
    patience: int = typer.Option(1, min=0, help="Validations without improvement before early stopping."),
    lr_head: float = typer.Option(1e-3, "--lr-head", min=1e-9, help="Learning rate of the head."),
    lr_layers: float = typer.Option(6e-5, "--lr-layers", min=1e-9, help="Learning rate of the fine-tuned layers."),
    lr_decay: float = typer.Option(
        1.0,
        "--lr-decay",
        help="Layer-wise learning-rate decay: each fine-tuned layer learns at this factor of the one above it "
        "(the top one at --lr-layers); 1 keeps one rate for all.",
    ),
    split: int | None = typer.Option(
        None,
        "--split",
        min=0,
        help="Frozen lower layers (e5-small has 12; 8 fine-tunes the top 4); default: the initial scorer's.",
    ),
    cap: list[str] | None = typer.Option(
        None,
        "--cap",
        help="SOURCE=N: keep at most N training rows of that source (held-out rows unchanged); repeatable.",
    ),
    weight: list[str] | None = typer.Option(
        None,
        "--weight",
        help="SOURCE=W: loss weight of that source's rows (default 1; RuTweetCorp and restaurants 0.3); repeatable.",
    ),
    eval_every: int | None = typer.Option(
        None, "--eval-every", min=1, help="Steps between validations (default: once per epoch)."
    ),
    offsets: bool = typer.Option(
        False,
        "--offsets/--no-offsets",
        help="Sentiment: fit per-class decision offsets on validation for the positive/negative F1 mean "
        "(at most 1 point of validation macro-F1), stored in scorer.json and applied when scoring.",
    ),
    order_seed: int | None = typer.Option(
        None,
        "--order-seed",
        help="A run's own order of batches and dropout (the held-out split and the head's first weights stay "
        "the same), for runs to average with --soup.",
    ),
    soup: list[Path] | None = typer.Option(
        None,
        "--soup",
        help="Instead of training, average this task's weights over these scorers (runs of one recipe, e.g. "
        "differing in --order-seed), then calibrate and report on the same split; repeatable, at least two.",
    ),
    filler_rate: float = typer.Option(
        0.0,
        "--filler-rate",
        min=0.0,
        max=1.0,
        help="Share of training rows given one unrelated neutral sentence from the training data before or after "
        "the text (label unchanged), so a post's extra sentences do not move its label; held-out rows unchanged.",
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue from the checkpoint in --out."),
    checkpoint_minutes: float = typer.Option(
        5.0, "--checkpoint-minutes", min=0.0, help="Minutes between resumable checkpoints in --out."
    ),
) -> None:
    """Fine-tune the sentiment or intent part from the backbone on labelled CSV and/or corrections."""
    from models.evaluate import DataError
    from models.registry import ModelError
    from models.train import TrainConfig, TrainError, train

    s = settings_of(ctx)
    if not data and not corrections:
        fail("give --data FILE.csv and/or --corrections", 2)
    caps: dict[str, int] = {}
    for c in cap or []:
        src, _, n = c.partition("=")
        if not src.strip() or not n.strip().isdigit():
            fail(f"--cap must be SOURCE=N (e.g. rutweetcorp_emoticon_labels=4000), not {c!r}", 2)
        caps[src.strip()] = int(n)
    weights: dict[str, float] = {}
    for w in weight or []:
        src, _, v = w.partition("=")
        try:
            value = float(v)
        except ValueError:
            value = 0.0
        if not src.strip() or not 0 < value < 100:
            fail(f"--weight must be SOURCE=W with 0 < W < 100 (e.g. car_reviews=2), not {w!r}", 2)
        weights[src.strip()] = value
    try:
        cfg = TrainConfig(
            task=task,
            epochs=epochs,
            max_train=max_train,
            max_tokens=max_tokens,
            branch=branch,
            head_width=head_width,
            head_members=head_members,
            patience=patience,
            lr_head=lr_head,
            lr_layers=lr_layers,
            lr_decay=lr_decay,
            split=split,
            max_per_source=caps,
            source_weights=weights,
            eval_every=eval_every,
            offsets_max_drop=0.01 if offsets else None,
            checkpoint_minutes=checkpoint_minutes,
            order_seed=order_seed,
            soup=[str(d) for d in soup or []],
            filler_rate=filler_rate,
        )
        with _progress() as prog:
            bars: dict = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in bars:
                    bars[stage] = prog.add_task(stage, total=total)
                prog.update(bars[stage], completed=done, total=total)

            res = train(
                s,
                cfg,
                list(data or []),
                out,
                store=Store.from_settings(s) if corrections else None,
                use_corrections=corrections,
                init_from=init,
                progress=progress,
                resume=resume,
            )
    except (TrainError, DataError, ModelError) as e:
        fail(str(e), 2)
    print_json({"out": str(res.out_dir), "model_version": res.version, "metrics": res.metrics})


@cli.command("predict")
def predict_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV with a text column."),
    text_col: str = typer.Option("text", "--text-col"),
    target_col: str | None = typer.Option(None, "--target-col", help="Column naming the brand to mark."),
    out: Path = typer.Option(..., "--out", help="Output CSV (input columns + predictions)."),
    model: str | None = typer.Option(None, "--model", "-m"),
) -> None:
    """Add sentiment, p_negative, p_neutral, p_positive, unsure, intent columns to a CSV."""
    from models.evaluate import DataError, read_labelled_csv
    from models.intent import INTENT_LABELS
    from models.registry import ModelError
    from models.scoring import predict_texts

    s = settings_of(ctx)
    try:
        df = read_labelled_csv(file, text_col, None, keep_extra=True)
        if target_col and target_col not in df.columns:
            raise DataError(f"{file}: missing column {target_col!r}")
        with _progress() as prog:
            task = prog.add_task("predicting", total=len(df))
            pr = predict_texts(
                s,
                df[text_col].tolist(),
                df[target_col].tolist() if target_col else None,
                model=model,
                progress=lambda n: prog.advance(task, n),
            )
    except (DataError, ModelError) as e:
        fail(str(e), 2)
    df["sentiment"] = pr.sentiment
    df["p_negative"] = pr.p_sentiment[:, 0].round(4)
    df["p_neutral"] = pr.p_sentiment[:, 1].round(4)
    df["p_positive"] = pr.p_sentiment[:, 2].round(4)
    df["unsure"] = pr.unsure
    df["intent"] = pr.intent
    for i, lab in enumerate(INTENT_LABELS):
        df[f"p_{lab}"] = pr.p_intent[:, i].round(4)
    df.to_csv(out, index=False)
    console.print(f"{len(df)} rows → {out} ({len(df) / max(pr.seconds, 1e-9):.0f} texts/s)")


@cli.command("eval")
def eval_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Labelled CSV."),
    task: str = typer.Option("sentiment", "--task", help="sentiment, intent, complaint or themes"),
    text_col: str = typer.Option("text", "--text-col"),
    label_col: str = typer.Option("label", "--label-col"),
    target_col: str | None = typer.Option(None, "--target-col"),
    model: str | None = typer.Option(None, "--model", "-m"),
) -> None:
    """Score a labelled CSV and print JSON metrics (n, accuracy, macro_f1, per_class, confusion, texts_per_s)."""
    from models.evaluate import DataError, evaluate_file
    from models.registry import ModelError

    try:
        res = evaluate_file(settings_of(ctx), task, file, text_col, label_col, target_col, model)
    except (DataError, ModelError) as e:
        fail(str(e), 2)
    print_json(res)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
    app.add_typer(models_app, name="models")
