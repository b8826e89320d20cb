"""The demo shop: a deterministic, realistic Chinese D2C online shop, written as the export files it would download.

`write_demo_files` draws two years (by default) of one shop selling ~200 products in CNY (store time zone
Asia/Shanghai): sessions and click events (GA4-like Parquet), orders and their lines, ad spend, daily inventory,
products and monthly operating expenses (CSV). Everything comes from one numpy Generator, so the same seed, length
and end date give byte-identical files. Traffic, conversion and baskets follow a small causal story: weekly rhythm,
growth, 618 / 双11 / 双12 peaks, a Spring Festival dip; conversion and basket size differ by source and device;
customers come back with decaying probability; stock is replenished after each product's lead time.

The stages, in the order `write_demo_files` (files.py) draws them from the one Generator: calendar.py (the days and
their drivers), catalog.py (the products), traffic.py (sessions), orders.py (orders, lines, stock, money),
events.py (click events), costs.py (ad spend, operating expenses).
"""

from pipelines.demo.calendar import DEMO_TIMEZONE
from pipelines.demo.files import CURRENCY, Progress, write_demo_files

__all__ = ["CURRENCY", "DEMO_TIMEZONE", "Progress", "write_demo_files"]
