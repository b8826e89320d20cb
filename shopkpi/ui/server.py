"""The process `shopkpi serve` runs: Streamlit's server for app.py, ready before its first visitor.

Under a plain `streamlit run app.py`, the first visit pays for importing DuckDB, polars, plotly and statsmodels (about
2 s) and each page computes its queries on its first view. Here the dashboard's modules are imported before the
server listens, and a watcher thread starts the warm-up of shopkpi/ui/warmup.py as soon as Streamlit's runtime exists,
then again whenever a writer publishes a new warehouse file, so pages are ready after an ingest too.

    python -m shopkpi.ui.server run app.py --server.port 8501 …  (streamlit's arguments; shopkpi/cli/serve.py)
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from streamlit import delta_generator, runtime
from streamlit.web import cli as streamlit_cli

# Declaring a cache before the runtime exists logs "No runtime found" although the cache will live in the runtime
# (it is created on first use): quiet while the dashboard's modules are imported.
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

# Imported here, before the server listens, rather than on the first visit. The pages import these too.
import metrics.forecast  # noqa: E402, F401  (statsmodels)
import shopkpi.ui.charts  # noqa: E402, F401  (plotly)
import shopkpi.ui.forecast_charts  # noqa: E402, F401
from shopkpi.ui import warmup  # noqa: E402

POLL_SECONDS = 2.0  # how soon a newly published warehouse file is warmed up

log = logging.getLogger("shopkpi")


def _watch() -> None:
    while not runtime.exists():  # the caches the pages read belong to the runtime: wait until it is there
        time.sleep(0.05)
    while True:
        try:
            warmup.start()  # does nothing while the warehouse file is the one already warmed
        except Exception:  # the watcher must outlive a bad moment (e.g. a settings file being edited)
            log.debug("warm-up check failed", exc_info=True)
        time.sleep(POLL_SECONDS)


def main() -> None:
    """Run `streamlit` with this process's arguments, with the watcher thread beside it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    # Streamlit asks once, on the first element any visitor draws, whether it runs in a REPL, by reading the source
    # of every frame on the stack (0.4 s of the first visit). This is `streamlit run`, not a REPL: answered here.
    # (A private flag: should Streamlit rename it, this line only sets an unused name.)
    delta_generator._use_warning_has_been_displayed = True
    threading.Thread(target=_watch, name="shopkpi-watch", daemon=True).start()
    streamlit_cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
