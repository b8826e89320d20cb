"""Reports: the operations report of a day, an ISO week or a month, downloaded as PDF, Excel or HTML — the same
files `shopkpi report` writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import streamlit as st

from metrics.segments import Segment
from metrics.targets import Target
from pages import page
from shopkpi import ui
from shopkpi.reports import FORMATS, MEDIA_TYPES, PERIOD_KINDS, file_name, report_bytes, report_period

KIND_LABELS = {
    "daily": ("Daily", "日报"),
    "weekly": ("Weekly (ISO week)", "周报（ISO 周）"),
    "monthly": ("Monthly", "月报"),
}
FORMAT_LABELS = {
    "pdf": ("PDF for reading and printing", "PDF（阅读、打印）", ":material/picture_as_pdf:"),
    "xlsx": ("Excel workbook", "Excel 工作簿", ":material/table_view:"),
    "html": ("Web page", "网页", ":material/html:"),
}


def deferred_report(
    kind: str, day: date, fmt: str, targets: dict[str, Target], store: str | None = None
) -> Callable[[], bytes]:
    """A callable for `st.download_button(data=...)`: builds the report (one store's if `store`, as `shopkpi report
    --store`) on click, not on every rerun of the page.

    It runs outside the script thread, so it takes its own cursor from the reader rather than the Streamlit cache.
    """
    reader = ui.reader()
    calendar = ui.calendar()

    def build() -> bytes:
        cursor = reader.cursor()
        try:
            # ui.lake(): engine = "spark"
            return report_bytes(cursor, kind, day, fmt, targets, calendar, ui.lake(), Segment(store=store))
        finally:
            cursor.close()

    return build


def render(current: ui.View) -> None:
    zh = current.lang == "zh"
    if current.latest is None:
        ui.empty(
            current.t("No dated data yet, so there is no period to report on.", "还没有带日期的数据，无法生成报告。")
        )
        return
    left, right = st.columns(2)
    kind = left.radio(
        current.t("Report", "报告"),
        PERIOD_KINDS,
        index=PERIOD_KINDS.index("monthly"),
        format_func=lambda k: KIND_LABELS[k][zh],
        horizontal=True,
        key="report_kind",
    )
    day = right.date_input(
        current.t("A day in the period", "期间内任一天"),
        value=current.latest,
        max_value=current.latest,
        key="report_day",
    )
    period = report_period(kind, day)
    store = current.segment.store  # the sidebar's store filter applies, as --store; source and device do not
    if store is None:
        who = current.t("the whole shop (the sidebar's filters do not apply)", "全店数据（不受侧边栏筛选影响）")
        command = "shopkpi report"
    else:
        who = current.t(
            f"store {store} (the sidebar's source and device filters do not apply)",
            f"店铺 {store}（不受侧边栏的来源和设备筛选影响）",
        )
        command = f"shopkpi report --store {store}"
    st.caption(
        current.t(
            f"{period.start} – {period.end}, {who}, compared with the previous period and last year. The same report"
            f" as `{command}`.",
            f"{period.start} 至 {period.end}，{who}，对比上一期和去年同期。与 `{command}` 生成的报告相同。",
        )
    )
    targets, problem = ui.targets()
    if problem:
        st.warning(problem, icon=":material/warning:")
    for column, fmt in zip(st.columns(len(FORMATS)), ("pdf", "xlsx", "html"), strict=True):
        en, zh_label, icon = FORMAT_LABELS[fmt]
        column.download_button(
            zh_label if zh else en,
            data=deferred_report(kind, day, fmt, targets, store),
            file_name=file_name(kind, day, fmt),
            mime=MEDIA_TYPES[fmt],
            icon=icon,
            on_click="ignore",
            key=f"report_{fmt}",
            width="stretch",
        )


if __name__ == "__main__":  # Streamlit runs a page as __main__ (it builds its files on click: nothing to warm up)
    ui.run_page(page(__file__), render, needs_period=False)
