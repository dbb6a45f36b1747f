"""The district: its administrative dongs, with accepted spellings, and its head-count bands."""
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _


@dataclass(frozen=True)
class Band:
    """A head-count band: its stored key (the 2020 report's own notation, "50 이하"), and its bounds, inclusive."""

    key: str
    low: int
    high: int | None  # None: open-ended

    def label(self) -> str:
        """The band in the reader's language, from its bounds."""
        if self.low == 0:
            return _("%(n)s 이하", n=self.high)
        if self.high is None:
            return _("%(n)s이상", n=self.low)
        return _("%(low)s~%(high)s", low=self.low, high=self.high)


class District:
    """Dongs and bands as configured; another district passes its own lists."""

    def __init__(self, dongs: list[str], band_edges: list[int]):
        self.dongs = list(dongs)
        self.band_edges = sorted(int(e) for e in band_edges)
        self._folded = {self._fold(d): d for d in self.dongs}
        self.bands = self._bands()
        self.band_labels = [b.key for b in self.bands]  # the stored keys, in report order
        self._by_key = {b.key: b for b in self.bands}

    @staticmethod
    def _fold(name: str) -> str:
        # Office spreadsheets write "당산 1동", "당산1동 ", full-width digits or "제1동"; all mean one dong.
        text = unicodedata.normalize("NFKC", str(name or ""))
        text = re.sub(r"\s+", "", text)
        return text.replace("제", "") if re.search(r"제\d+동$", text) else text

    def canonical_dong(self, name: str) -> str | None:
        """The canonical dong name for a spelling, or None when it is not one of the district's."""
        folded = self._fold(name)
        if folded in self._folded:
            return self._folded[folded]
        # "당산1" or "여의" without the trailing 동
        return self._folded.get(folded + "동")

    def _bands(self) -> list[Band]:
        bands, low = [], 0
        for i, edge in enumerate(self.band_edges):
            bands.append(Band(f"{edge} 이하" if i == 0 else f"{low}~{edge}", 0 if i == 0 else low, edge))
            low = edge + 1
        bands.append(Band(f"{low}이상", low, None))
        return bands

    def band_label(self, key) -> str:
        """A stored band key in the reader's language; a key of earlier band edges is shown as it was stored."""
        band = self._by_key.get(key)
        return band.label() if band else key

    def band_for(self, headcount: int) -> str:
        """The band label a head count falls in; edges are inclusive."""
        for edge, label in zip(self.band_edges, self.band_labels):
            if headcount <= edge:
                return label
        return self.band_labels[-1]

    def band_case(self, headcount):
        """The band of a head-count column as a SQL CASE, so that counts follow the configured edges even before
        the stored size_band column has been brought up to date."""
        from sqlalchemy import case
        return case(*[(headcount <= edge, label) for edge, label in zip(self.band_edges, self.band_labels)],
                    else_=self.band_labels[-1])

    def band_order(self, label: str) -> int:
        """Position of a band, for sorting tables in report order."""
        return self.band_labels.index(label) if label in self.band_labels else len(self.band_labels)


def current() -> District:
    """The district configured for this app."""
    ext = current_app.extensions
    if "tracker_district" not in ext:
        cfg = current_app.config
        ext["tracker_district"] = District(cfg["TRACKER_DONGS"], cfg["TRACKER_BAND_EDGES"])
    return ext["tracker_district"]
