"""One console format: brandmon's key=value handler replaces Prefect's console handler on the root logger."""

from __future__ import annotations

import logging

from prefect.logging.handlers import PrefectConsoleHandler

from pipeline.logs import configure_logging, log_context


def test_third_party_chatter_is_quiet_at_info(capsys):
    """The one-off int8 export logged hundreds of onnx_ir pass lines into `brandmon score`'s output."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        configure_logging("INFO")
        logging.getLogger("onnx_ir.passes.common.initializer_deduplication").info("Replaced initializer")
        logging.getLogger("pymorphy3.opencorpora_dict.wrapper").info("Loading dictionaries")
        logging.getLogger("onnx_ir.passes").warning("export trouble")
        logging.getLogger("models.scoring").info("scored 3")
        err = capsys.readouterr().err
        assert "Replaced initializer" not in err and "Loading dictionaries" not in err, err
        assert "export trouble" in err and "scored 3" in err, err
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
        root.setLevel(level)


def test_prefect_console_handler_is_replaced_so_lines_print_once(capsys):
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    prefect_console = PrefectConsoleHandler()  # what Prefect's logging setup puts on the root logger
    root.addHandler(prefect_console)
    try:
        configure_logging("INFO")
        assert prefect_console not in root.handlers
        with log_context(stage="ingest"):
            logging.getLogger("prefect.flow_runs").info("flow line")
        err = capsys.readouterr().err
        assert err.count("flow line") == 1, err
        assert 'logger=prefect.flow_runs stage=ingest msg="flow line"' in err
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
        for h in before:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)
