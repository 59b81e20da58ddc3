# Two commands set everything up on a fresh machine:
#   make demo   - virtualenv + install, then crawl the local demo web, ingest, score, cluster, escalate, open the dashboard
#   make test   - virtualenv + install, then run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# `make test` is the fast tier (about 4 minutes of CPU, about 3 minutes of wall time on 2 cores): everything but the tests
# marked slow (end-to-end and crash-and-rerun runs, training, subprocess-heavy concurrency) and browser (headless
# Chromium), on one pytest worker per core (pytest-xdist). CI (CI=true) has the time budget for all of them, as
# `make test-all` does locally, and runs them in one process: the slow tier's kill-and-rerun and lock tests time
# other processes, and are not run side by side.
WORKERS ?= 2
MARKERS := $(if $(CI),,-m "not slow and not browser" -n $(WORKERS))

.PHONY: demo test test-all lint venv browser bench scorer themes-encoder clean

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so nothing below pulls a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

# Headless Chromium for the dashboard screenshot test (Debian packages; needs root or sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) 2>/dev/null || \
	  (sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver >/dev/null) 2>/dev/null || \
	  echo "warning: could not install chromium; the browser test will be skipped"; }

demo: venv
	$(BIN)/brandmon demo

test: venv $(if $(CI),browser)
	@$(BIN)/python -m pytest $(MARKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests (broken collection?)"; exit 1; fi; exit $$rc

test-all: venv browser
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

# ruff (format + lint) and mypy, configured in pyproject.toml; CI runs this after the tests
lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# The shipped scorer from the research data beside the clone (docs/models.md, "Reproducing"): sentiment, then
# intent on top. About 130 CPU-minutes (70 minutes) on 2 cores. Stopped? `make scorer` again resumes where it stopped.
SHARED ?= ../shared/data
RUNS   ?= runs
define train_step
	if [ -f $(1)/checkpoint/meta.json ]; then r=--resume; else r=; fi; $(BIN)/brandmon train $(2) --out $(1) $$r
endef

$(RUNS)/data/sentiment_restaurants.csv $(RUNS)/data/intent_restaurants.csv &: | venv
	mkdir -p $(RUNS)/data
	$(BIN)/python -m models.sentiment_sources restaurants $(SHARED)/aspects/restaurant_reviews_aspects.jsonl $(RUNS)/data/sentiment_restaurants.csv
	$(BIN)/python -m models.intent_sources restaurants $(SHARED)/aspects/restaurant_reviews_aspects.jsonl $(RUNS)/data/intent_restaurants.csv

$(RUNS)/sentiment/scorer.json: $(RUNS)/data/sentiment_restaurants.csv
	$(call train_step,$(RUNS)/sentiment,--task sentiment --init none --data $(SHARED)/sentiment/train.csv \
	  --data $(RUNS)/data/sentiment_restaurants.csv --data data/training/brand_sentiment.csv --split 0 \
	  --cap rutweetcorp_emoticon_labels=4000 --epochs 3 --eval-every 400 --patience 3)

$(RUNS)/scorer/scorer.json: $(RUNS)/sentiment/scorer.json
	$(call train_step,$(RUNS)/scorer,--task intent --init $(RUNS)/sentiment --branch sentiment@10 --head-width 256 --head-members 5 \
	  --epochs 60 --patience 8 --lr-head 2e-3 --data data/training/intent_seed.csv \
	  --data $(SHARED)/complaints/car_reviews_problem.csv --data $(RUNS)/data/intent_restaurants.csv \
	  --data data/training/brand_intent.csv)

scorer: $(RUNS)/scorer/scorer.json
	@echo "scorer in $(RUNS)/scorer; compare: $(BIN)/brandmon models list, then models/weights/brandmon-scorer/MODEL_CARD.md"

# A theme encoder trained on the choosing half of the citizen appeals (`brandmon train-themes`, about 4 CPU-minutes),
# as measured in docs/themes.md ("A theme encoder"; not the default). Compare it on the held-out half:
#   $(BIN)/python benchmarks/themes.py --half held-out --encoder $(RUNS)/themes-encoder
$(RUNS)/data/appeals_choosing.csv: | venv
	mkdir -p $(RUNS)/data
	$(BIN)/python benchmarks/themes.py --data $(SHARED) --write-half choosing $@

themes-encoder: $(RUNS)/data/appeals_choosing.csv
	$(BIN)/brandmon train-themes $< --text-col text --label-col topic --out $(RUNS)/themes-encoder

clean:
	rm -rf $(VENV) .pytest_cache data/brandmon.duckdb data/brandmon.duckdb.wal data/raw
