"""The PDF's trend page for a patient with two or more analysed studies: six-zone score, geographic extent
and p(pneumonia) against the study date (the current study marked), the change since the prior in
words with what "no clear change" means, and the table of studies. De-identified, dates become days
counted from the patient's first study (the interval is kept, the calendar date is not)."""

import datetime
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from xraydesk.ai.trend import (
    CHART_PANELS,
    CURRENT_STUDY_COLOUR,
    MEASURES,
    STUDY_SUMMARY,
    ChangeLimits,
    StudyPoint,
    Trend,
    change_lines,
    value_words,
)
from xraydesk.report.names import ExportNames
from xraydesk.report.pdf import A4_INCHES, IDENTITY_FONTSIZE, LEFT_MARGIN, fitted_lines, write_footer, write_wrapped

TREND_HEADING = "XRayDesk — severity trend"
CHART_TOP, CHART_HEIGHT, CHART_GAP = 0.88, 0.085, 0.012
TABLE_ROW = 0.0165  # of the page height
FOOTER_TOP = 0.095  # the table stops above the footer (model, operating points, notice)
TABLE_COLUMNS = ((0.0, "Study"), (0.06, "Date"), (0.22, "Images"), (0.31, "p(pneumonia)"),
                 (0.45, "Six-zone score"), (0.60, "Extent"), (0.70, "Note"))  # x offsets from the margin


@dataclass(frozen=True)
class TrendPage:
    trend: Trend
    limits: ChangeLimits

    @property
    def analyses(self) -> tuple:
        return tuple(study.analysis for study in self.trend.studies)

    def figure(self, number: int, count: int, deidentify: bool, created: str,
               names: ExportNames | None = None) -> Figure:
        """The latest study is marked as the current one; `names`: the summary's patients (by default
        this page's alone)."""
        names = names or ExportNames.of(self.analyses)
        figure = Figure(figsize=A4_INCHES)
        trend = self.trend
        current = len(trend.studies) - 1
        figure.text(LEFT_MARGIN, 0.965, TREND_HEADING, fontsize=15, weight="bold")
        figure.text(0.94, 0.965, f"Page {number} of {count}", fontsize=10, ha="right")
        figure.text(LEFT_MARGIN, 0.95, "\n".join(fitted_lines([_identity_line(trend, deidentify, names)])),
                    fontsize=IDENTITY_FONTSIZE, va="top", linespacing=1.5)
        _draw_chart(figure, trend, current, deidentify)
        top = CHART_TOP - 3 * CHART_HEIGHT - 2 * CHART_GAP - 0.05
        top = write_wrapped(figure, LEFT_MARGIN, top, f"Change since the prior study ({_study_name(trend, current)}"
                            f", {trend.date_label(trend.studies[current], deidentify)}):", 11, weight="bold")
        for index, line in enumerate(change_lines(trend, self.limits, current, deidentify)):
            top = write_wrapped(figure, LEFT_MARGIN + 0.02, top - 0.003, line, 10.5 if index == 0 else 9.5,
                                weight="bold" if index == 0 else "normal")
        top = write_wrapped(figure, LEFT_MARGIN, top - 0.01, self.limits.meaning(), 8, color="#444444")
        top = write_wrapped(figure, LEFT_MARGIN, top - 0.004, STUDY_SUMMARY, 8, color="#444444")
        _draw_table(figure, trend, current, deidentify, top - 0.02)
        write_footer(figure, trend.studies[current].analysis, created)
        return figure


def _identity_line(trend: Trend, deidentify: bool, names: ExportNames) -> str:
    keys = trend.studies[-1].analysis.identity.keys
    studies = f"{names.patient_words(keys)}: {len(trend.studies)} analysed studies"
    if deidentify:
        return f"De-identified: name, ID and dates removed; days are counted from the first study.   {studies}"
    return f"Patient: {keys.patient_name or '—'}   ID: {trend.patient_id}   {studies}"


def _study_name(trend: Trend, index: int) -> str:
    return f"study {index + 1} of {len(trend.studies)}"


def _days(trend: Trend, study: StudyPoint) -> float:
    """From the first study's midnight: day N spans [N, N + 1), its label sits at N + 0.5."""
    start = datetime.datetime.combine(trend.studies[0].date, datetime.time())
    return (study.moment - start) / datetime.timedelta(days=1)


def _draw_chart(figure: Figure, trend: Trend, current: int, deidentify: bool) -> None:
    """One small panel per measure, sharing the time axis (whole days from the first study's; labelled with
    dates unless de-identified); a withheld value is a cross; the current study has a ring and a band."""
    days = [_days(trend, study) for study in trend.studies]
    panels = []
    for row, measure in enumerate(MEASURES):
        title, highest, colour = CHART_PANELS[measure]
        limits = (-0.05 * highest, 1.05 * highest)
        bottom = CHART_TOP - (row + 1) * CHART_HEIGHT - row * CHART_GAP
        axes = figure.add_axes((LEFT_MARGIN + 0.05, bottom, 0.83, CHART_HEIGHT),
                               sharex=panels[0] if panels else None)
        values = [study.value(measure) for study in trend.studies]
        known = [(day, value) for day, value in zip(days, values) if value is not None]
        axes.plot([day for day, _ in known], [value for _, value in known], color=colour, marker="o",
                  markersize=4, linewidth=1.5)
        withheld = [day for day, value in zip(days, values) if value is None]
        axes.plot(withheld, [limits[0] + 0.08 * (limits[1] - limits[0])] * len(withheld), linestyle="none",
                  marker="x", color="#777777", markersize=6)
        if values[current] is not None:
            axes.plot([days[current]], [values[current]], marker="o", markersize=10, markerfacecolor="none",
                      markeredgecolor=CURRENT_STUDY_COLOUR, markeredgewidth=2)
        axes.axvline(days[current], color=CURRENT_STUDY_COLOUR, linewidth=6, alpha=0.2)
        axes.set_ylim(*limits)
        axes.set_ylabel(title, fontsize=7.5)
        axes.tick_params(labelsize=7.5)
        axes.grid(axis="y", alpha=0.3)
        axes.grid(axis="x", which="minor", alpha=0.3)  # midnights
        panels.append(axes)
    for axes in panels[:-1]:
        axes.tick_params(labelbottom=False)
    _label_days(panels[-1], trend, int(days[-1]), deidentify)
    panels[0].set_title("Course of the patient's analysed studies (ring and band: current study; "
                        "×: severity withheld)", fontsize=9, loc="left")


def _label_days(axes, trend: Trend, last_day: int, deidentify: bool) -> None:
    """A few whole days labelled at their middle, midnights as minor ticks (with up to 60 days)."""
    first = trend.studies[0].date
    labelled = [int(day) for day in MaxNLocator(nbins=6, integer=True).tick_values(0, last_day) if 0 <= day <= last_day]
    axes.set_xlim(0, last_day + 1)
    axes.set_xticks([day + 0.5 for day in labelled],
                    [f"day {day}" if deidentify else (first + datetime.timedelta(days=day)).isoformat()
                     for day in labelled])
    if last_day < 60:
        axes.set_xticks(range(last_day + 2), minor=True)
    axes.tick_params(axis="x", which="major", length=0)
    axes.set_xlabel("Days from the first study" if deidentify else "Study date", fontsize=8)


def _draw_table(figure: Figure, trend: Trend, current: int, deidentify: bool, top: float) -> None:
    """The studies, latest first: as many as fit above the footer (the chart shows them all)."""
    fitting = int((top - FOOTER_TOP) / TABLE_ROW) - 2  # below the heading, above the note on the others
    shown = list(enumerate(trend.studies))[::-1][:fitting]
    for x, heading in TABLE_COLUMNS:
        figure.text(LEFT_MARGIN + x, top, heading, fontsize=8.5, weight="bold", va="top")
    for row, (index, study) in enumerate(shown, start=1):
        cells = _table_row(trend, index, study, current, deidentify)
        for (x, _), cell in zip(TABLE_COLUMNS, cells):
            figure.text(LEFT_MARGIN + x, top - row * TABLE_ROW, cell, fontsize=8.5, va="top",
                        weight="bold" if index == current else "normal")
    if len(trend.studies) > len(shown):
        figure.text(LEFT_MARGIN, top - (len(shown) + 1) * TABLE_ROW, f"The {len(trend.studies) - len(shown)} "
                    "earlier studies are in the chart only.", fontsize=8, va="top", color="#444444")


def _table_row(trend: Trend, index: int, study: StudyPoint, current: int, deidentify: bool) -> list[str]:
    notes = [note for note, applies in (("current", index == current), ("severity withheld", study.severity_withheld))
             if applies]
    extent, score = study.value("geographic_extent"), study.value("six_zone_score")
    return [str(index + 1), trend.date_label(study, deidentify), str(len(study.paths)),
            value_words("p_pneumonia", study.value("p_pneumonia")), "—" if score is None else f"{score:.0f} / 6",
            "—" if extent is None else f"{extent:.1f} / 8", "; ".join(notes)]
