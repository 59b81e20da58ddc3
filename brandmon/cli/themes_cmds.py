"""`brandmon cluster FILE.csv` (themes for any CSV) and `brandmon themes` (a brand's complaint themes)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from brandmon.cli.common import console, fail, settings_of, writing
from brandmon.cli.output import Format, format_option, print_frame, print_json

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


@cli.command("cluster")
def cluster(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="UTF-8 CSV with a text column."),
    text_col: str = typer.Option("text", "--text-col", help="Column holding the texts."),
    out: Path = typer.Option(..., "--out", "-o", help="Output CSV: the input plus theme_id, theme_label."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Cosine distance cut (default: settings.themes.distance_threshold)."
    ),
) -> None:
    """Cluster the texts of a CSV into themes; unassigned rows get theme_id -1."""
    from models.evaluate import DataError, read_labelled_csv
    from models.themes import cluster_texts

    s = settings_of(ctx)
    if threshold is not None:
        s = s.model_copy(update={"themes": s.themes.model_copy(update={"distance_threshold": threshold})})
    try:
        df = read_labelled_csv(file, text_col, keep_extra=True)
    except DataError as e:
        fail(str(e), 2)
    with console.status(f"embedding and clustering {len(df):,} texts"):
        labels, names = cluster_texts(df[text_col].tolist(), s)
    df["theme_id"] = labels
    df["theme_label"] = [names.get(label, "") if label >= 0 else "" for label in labels]
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    assigned = sum(1 for label in labels if label >= 0)
    console.print(
        f"{out}: {len(df):,} rows, {len(names)} themes, {assigned:,} assigned, {len(df) - assigned:,} unassigned"
    )


@cli.command("themes")
def themes(
    ctx: typer.Context,
    brand: str | None = typer.Option(None, "--brand", "-b", help="Brand id (default: all brands)."),
    update: bool = typer.Option(False, "--update", help="Re-cluster the lookback window first."),
    all_: bool = typer.Option(False, "--all", help="Include faded themes with no members now."),
    fmt: Format = format_option(),
) -> None:
    """List complaint themes (label, keywords, size, growth, status) of a brand or of all brands."""
    from pipeline.store import Store

    s = settings_of(ctx)
    store = Store.from_settings(s)
    if update:
        from models.themes import update_themes

        with writing(s, "themes"), console.status("updating themes"):
            counts = update_themes(s, store)
        if fmt is Format.table:
            console.print(counts)
    sql = (
        "SELECT brand_id, theme_id, label, keywords_json AS keywords, size, prev_size, status, "
        "first_seen, last_seen FROM themes WHERE (? IS NULL OR brand_id = ?) AND (? OR size > 0) "
        "ORDER BY brand_id, size DESC, theme_id"
    )
    df = store.show(sql, [brand, brand, all_])
    if brand and df.empty and store.show("SELECT count(*) AS n FROM brands WHERE brand_id = ?", [brand]).n[0] == 0:
        fail(f"unknown brand {brand!r}", 2)
    if fmt is Format.json:  # one array (as before --format was shared), keywords_json as stored
        print_json(df.to_dict(orient="records"))
        return
    if fmt is Format.table:  # people read the keywords as words, not as a JSON array
        df["keywords"] = [", ".join(json.loads(k or "[]")) for k in df["keywords"]]
    print_frame(df, fmt, title="complaint themes")


@cli.command("train-themes")
def train_themes(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="UTF-8 CSV of complaints labelled by topic."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the overlay (replaced whole when done)."),
    text_col: str = typer.Option("text", "--text-col", help="Column holding the texts."),
    label_col: str = typer.Option("topic", "--label-col", help="Column holding each text's topic."),
    steps: int = typer.Option(40, "--steps", help="Training batches (16 topics x 4 texts each)."),
    layers: int = typer.Option(4, "--layers", help="Top layers of the backbone to train."),
    mix: float = typer.Option(
        0.25, "--mix", help="Share of the tuned weights kept, the rest the backbone's (1 = all tuned; docs/themes.md)."
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train a theme encoder on topic-labelled complaints; use it with models.embedder = OUT."""
    from models.backbone import ensure_backbone
    from models.evaluate import DataError, read_labelled_csv
    from models.theme_encoder import ThemeEncoderError, ThemeTrainConfig, train_theme_encoder

    s = settings_of(ctx)
    try:
        cfg = ThemeTrainConfig(steps=steps, layers=layers, seed=seed, mix=mix, max_length=s.themes.max_tokens)
        df = read_labelled_csv(file, text_col, label_col)
        with console.status("training the theme encoder") as status:
            man = train_theme_encoder(
                ensure_backbone(s),
                df[text_col].tolist(),
                df[label_col].tolist(),
                out,
                cfg,
                progress=lambda stage, done, total: status.update(f"{stage}: {done:,} of {total:,}"),
            )
    except (DataError, ThemeEncoderError) as e:
        fail(str(e), 2)
    console.print(
        f"{out}: {man['data']['texts']:,} texts in {man['data']['topics']:,} topics, {cfg.steps} steps, "
        f'{man["cpu_seconds"] / 60:.1f} CPU-minutes; use it with models.embedder = "{out}"'
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
