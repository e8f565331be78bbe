"""The shipped report as a reviewer sees it: rendered by headless Chromium (Debian's chromium).

The workflow runs on a copy of the shipped data; Chromium loads report/index.html from disk and
dumps the DOM it built. What it shows must hold every study and the pooled numbers of
pooled.csv, and the tables must hold no live markup; a citation and a quote containing markup
must be shown as text. .ci/run installs chromium when it is missing and it runs as root;
elsewhere these tests are skipped with the reason.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from survmeta.numbers import ci_text, fmt_ci_log

ROOT = Path(__file__).parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (.ci/run installs Debian's chromium when run as root)",
)
#: Elements a table cell may hold (our own: lists, code, emphasis, quotes, in-page links).
TABLE_TAGS = {"table", "caption", "thead", "tbody", "tr", "th", "td", "ul", "li", "code",
              "strong", "blockquote", "a", "span"}  # fmt: skip
MARKUP = '<img src=x onerror="alert(1)"><b>bold</b>'


class Dom(HTMLParser):
    """Tags (with their attributes and whether they sit inside a table) and the visible text."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict, bool]] = []
        self.text: list[str] = []
        self._stack: list[str] = []
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), "table" in self._stack))
        if tag in ("style", "script", "title") and "svg" not in self._stack:
            self._skip += 1
        if tag not in ("meta", "br", "img", "input", "link", "hr", "col", "source"):
            self._stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs), "table" in self._stack))

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass
            if tag in ("style", "script", "title") and "svg" not in self._stack and self._skip:
                self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return " ".join(" ".join(self.text).split())


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *args],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def dump_dom(path: Path) -> Dom:
    proc = chromium("--dump-dom", path.as_uri())
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    return Dom(proc.stdout)


def run_workflow(work: Path, *extra: str) -> None:
    proc = subprocess.run(
        [SNAKEMAKE, "-s", ROOT / "Snakefile", "--directory", work, "--cores", "4",
         "--configfile", work / "config.yaml", *extra],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("browser")
    shutil.copytree(ROOT / "data", work / "data")
    shutil.copy(ROOT / "config.yaml", work / "config.yaml")
    run_workflow(work)
    return work


@pytest.fixture(scope="module")
def dom(shipped) -> Dom:
    return dump_dom(shipped / "report/index.html")


def test_browser_shows_every_study(shipped, dom):
    studies = pd.read_csv(shipped / "data/nelm/studies.csv", dtype=str)
    effects = pd.read_csv(shipped / "results/effects.csv", dtype=str)
    excluded = pd.read_csv(shipped / "results/excluded.csv", dtype=str)
    text = dom.visible
    for sid in set(studies["study_id"]) | set(effects["study_id"]) | set(excluded["study_id"]):
        assert sid in text, sid
    for cit in studies["citation"]:
        assert " ".join(cit.split()) in text


def test_browser_shows_the_pooled_numbers(shipped, dom):
    pooled = pd.read_csv(shipped / "results/pooled.csv")
    text = dom.visible
    shown = 0
    rows = pooled[(pooled["subgroup"] == "all") | pooled["main"]]
    for r in rows.itertuples():
        if not math.isfinite(r.hr):
            assert r.status in text
            continue
        assert fmt_ci_log(r.estimate, r.ci_low, r.ci_high) in text, (r.analysis_id, r.method)
        shown += 1
    assert shown >= 3 * 14  # every method x test of every shipped analysis
    main = pooled[pooled["main"] & (pooled["subgroup"] == "all")]
    for r in main.itertuples():  # and the forest plots' own two-decimal text
        assert ci_text(r.estimate, r.ci_low, r.ci_high) in text


def test_no_live_markup_and_no_outside_requests(dom):
    tags = {t for t, _, _ in dom.tags}
    assert not tags & {"script", "iframe", "img", "object", "embed", "link", "base", "form"}
    in_tables = {t for t, _, inside in dom.tags if inside}
    assert in_tables <= TABLE_TAGS, in_tables - TABLE_TAGS
    for tag, attrs, _ in dom.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        for a in ("src", "href", "xlink:href", "action", "data"):
            if a in attrs:
                assert attrs[a].startswith("#"), (tag, a, attrs[a])
        assert "url(" not in attrs.get("style", "") or "url(#" in attrs.get("style", "")


def test_figures_inline_with_text_alternatives_and_tables_with_headers(dom, shipped):
    svgs = [a for t, a, _ in dom.tags if t == "svg"]
    analyses = pd.read_csv(shipped / "results/effects.csv")["analysis_id"].nunique()
    assert len(svgs) >= 2 * analyses  # forest and funnel (and GOSH when run) per analysis
    assert all(a.get("role") == "img" and a.get("aria-label") for a in svgs)
    names = [t for t, _, _ in dom.tags]
    assert names.count("title") >= len(svgs) + 1 and names.count("desc") >= len(svgs)
    assert names.count("figcaption") == names.count("figure")
    assert names.count("caption") + 0 >= names.count("table") - sum(
        1 for t, a, _ in dom.tags if t == "table" and "kv" in a.get("class", "")
    )
    assert names.count("th") > names.count("table")
    assert "favours liver-directed" in dom.visible and "favours systemic" in dom.visible


def test_report_sections_a_reviewer_needs(dom):
    text = dom.visible
    for heading in ("Summary of findings (draft)", "Methods", "Caveats", "Main result",
                    "Small-study effects", "Leave-one-out", "Certainty of the evidence (draft",
                    "Audit trail", "Excluded comparisons", "Included studies", "References",
                    "Provenance", "Configuration as run"):  # fmt: skip
        assert heading in text, heading
    assert "85-91% of the time" in text and "few, wide intervals" in text
    assert "Test for subgroup differences" in text and "Prediction interval" in text
    for package in ("python", "snakemake", "numpy", "scipy", "pandas", "statsmodels", "pymare",
                    "matplotlib", "jinja2"):  # fmt: skip
        assert f" {package} " in f" {text} "


def test_markup_in_a_citation_or_quote_is_shown_as_text(shipped, tmp_path):
    """Render the same results with markup in a citation and a quote; the browser shows it."""
    import yaml

    from survmeta.io import write_text
    from survmeta.report.build import build_report

    copy = tmp_path / "run"
    shutil.copytree(shipped / "results", copy / "results")
    studies_csv = copy / "results/validated/studies.csv"
    studies = pd.read_csv(studies_csv, dtype=str, keep_default_na=False)
    studies.loc[0, "citation"] += " " + MARKUP
    studies_csv.write_text(studies.to_csv(index=False))
    effects = pd.read_csv(copy / "results/effects.csv", dtype=str, keep_default_na=False)
    effects.loc[0, "quote"] = "She said <script>alert(2)</script> & left"
    (copy / "results/effects.csv").write_text(effects.to_csv(index=False))
    config = yaml.safe_load((shipped / "config.yaml").read_text())
    figures = sorted((copy / "results/figures").glob("*.svg"))
    html = build_report(copy / "results", figures, config)
    write_text(tmp_path / "index.html", html)
    dom = dump_dom(tmp_path / "index.html")
    tags = {t for t, _, _ in dom.tags}
    assert "img" not in tags and "script" not in tags
    assert "b" not in {t for t, _, inside in dom.tags if inside}
    assert MARKUP in dom.visible and "She said <script>alert(2)</script> & left" in dom.visible


def test_two_runs_in_different_directories_give_the_same_report(shipped, tmp_path):
    other = tmp_path / "elsewhere"
    shutil.copytree(shipped, other, symlinks=True)
    figures = sorted(p.relative_to(other) for p in (other / "results/figures").glob("*.svg"))
    run_workflow(other, "--forcerun", "report/index.html", *map(str, figures))
    assert (other / "report/index.html").read_bytes() == (
        shipped / "report/index.html"
    ).read_bytes()
    for rel in figures:
        assert (other / rel).read_bytes() == (shipped / rel).read_bytes(), rel


#: Lists what sticks out of an A4 portrait page (186 mm of text width = 703 CSS px) when the
#: print stylesheet applies; the forest plots' landscape pages (.lead) are allowed wider.
OVERFLOW_PROBE = """<script>
window.addEventListener('load', () => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.closest('.lead')) continue;
    if (el.getBoundingClientRect().right > w + 1) out.push(el.tagName + ': ' +
      (el.textContent || '').slice(0, 60).replace(/\\s+/g, ' '));
  }
  const pre = document.createElement('pre');
  pre.id = 'overflow'; pre.textContent = out.join('\\n') || 'none';
  document.body.appendChild(pre);
});
</script>"""


def test_print_layout_fits_a4_portrait(shipped, tmp_path):
    """A table wider than the page makes Chromium shrink every printed page: none may be."""
    html = (shipped / "report/index.html").read_text(encoding="utf-8")
    assert "@media print {" in html
    probe = html.replace("@media print {", "@media all {").replace(
        "</body>", OVERFLOW_PROBE + "</body>"
    )
    (tmp_path / "probe.html").write_text(probe, encoding="utf-8")
    proc = chromium("--window-size=703,1000", "--virtual-time-budget=5000", "--dump-dom",
                    (tmp_path / "probe.html").as_uri())  # fmt: skip
    found = re.search(r'<pre id="overflow">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stderr[-2000:]
    assert found.group(1) == "none", found.group(1)


def test_prints_to_pdf(shipped, tmp_path):
    pdf = tmp_path / "report.pdf"
    proc = chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                    (shipped / "report/index.html").as_uri())  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") > 5
