"""training/report.py: RESULTS.md shows the leave-one-source-out table beside the in-domain ones."""

from __future__ import annotations

from training import report


def test_generalization_embeds_the_loso_report_without_its_title(tmp_path):
    loso = tmp_path / "RESULTS-loso.md"
    assert "run `make loso`" in report.generalization(loso)
    loso.write_text("# Leave one source out (English)\n\n- date: d\n\n| held-out source | fold |\n|---|---:|\n"
                    "| debian | 69.8 |\n\n![leave one source out](figures/loso.png)\n", encoding="utf-8")
    text = report.generalization(loso)
    assert "# Leave one source out" not in text
    assert "| debian | 69.8 |" in text and "![leave one source out](figures/loso.png)" in text
    assert text.startswith("From [RESULTS-loso.md](RESULTS-loso.md)")
    assert "RESULTS-hybrid.md" in text and "RESULTS-corpus-weights.md" in text and "RESULTS-hybrid-index.md" in text
