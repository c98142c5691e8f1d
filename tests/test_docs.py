"""The manual and the front page describe the product as it is, and every figure traces to
the JSON beside it."""

import json
import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
BENCH = DOCS / "bench"
PAGES = sorted([REPO / "README.md", REPO / "reproduce" / "README.md", *DOCS.glob("*.md")])

ORDINALS = ("first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
            "twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            "nineteenth|twentieth")
# Words that date the work or point at the tracker: that history lives in git and in the
# closing notes, not in what a user reads.
DATING = [re.compile(pattern, re.IGNORECASE) for pattern in (
    rf"\b({ORDINALS})[- ]session", r"\bsession\s+\d+", r"\b(this|that|the next|the last|"
    r"an earlier|a later|previous) session\b", r"\bissues?\s+#?\d+", r"(?<![\w/])#\d{1,3}\b")]
DATED_NAMES = re.compile(rf"({ORDINALS})|_before\b|_after\b|_old\b|_new\b", re.IGNORECASE)


def _tracked() -> list[pathlib.Path]:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    return [REPO / name for name in files if (REPO / name).is_file()]


def _text_files() -> list[pathlib.Path]:
    suffixes = {".md", ".py", ".ipynb", ".toml", ".cfg", ".txt", ".json", ".csv", ""}
    return [path for path in _tracked() if path.suffix in suffixes
            and "fixtures" not in path.parts and path.name != "uv.lock"]


def test_nothing_in_the_repository_dates_the_work_or_cites_issue_numbers():
    found = []
    for path in _text_files():
        if path == pathlib.Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(REPO)}:{number}: {line.strip()[:100]}"
                      for pattern in DATING if pattern.search(line)]
    assert not found, "\n".join(found)


def test_no_file_name_dates_the_work():
    dated = [str(path.relative_to(REPO)) for path in _tracked()
             if DATED_NAMES.search(path.stem)]
    assert not dated


def test_the_manual_says_what_the_product_is_in_pages_of_readable_size():
    assert len((REPO / "README.md").read_text()) <= 8000
    for page in DOCS.glob("*.md"):
        assert len(page.read_text()) <= 25_000, page.name
        # A manual page, not a diary: no "session" in the sense of a work session.
        assert not re.search(r"\bsessions?\b", page.read_text(), re.IGNORECASE), page.name


def _links(page: pathlib.Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", page.read_text())


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    # Links keep their text; GitHub drops punctuation but keeps "_" and "-".
    text = re.sub(r"`|\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: pathlib.Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in page.read_text().splitlines()
            if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_and_anchor_resolves(page):
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        assert path.exists(), f"{page.name} links {link}: no such file"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name} links {link}: no such heading"


def _cited() -> set[pathlib.Path]:
    cited = set()
    for page in PAGES:
        for name in re.findall(r"bench/([\w.\-]+\.(?:json|csv|md))", page.read_text()):
            cited.add(BENCH / name)
    return cited


def test_docs_bench_holds_exactly_the_files_that_pages_cite():
    cited = _cited()
    missing = sorted(path.name for path in cited if not path.exists())
    assert not missing, f"cited but not in docs/bench: {missing}"
    uncited = sorted(path.name for path in BENCH.iterdir() if path not in cited)
    assert not uncited, f"in docs/bench but cited by no page: {uncited}"


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield float(value)


def _tables(text: str):
    """(the JSON files linked above it in its section, rows of cells) of each table."""
    section_links, table = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("#"):
            section_links = []
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip("|").split("|")])
            continue
        if table:
            yield list(section_links), table
            table = []
        section_links += re.findall(r"\((docs/bench/[\w.\-]+\.json)\)", line)


# A printed figure: 3.40%, 1.35 ± 0.30%, 19.6M, 5.29x.
FIGURE = re.compile(r"(\d+(?:\.\d+)?)\s*(%|M\b|x\b)?")


def _printed(value: float, unit: str, decimals: int) -> float:
    scale = {"%": 100.0, "M": 1e-6, "x": 1.0, "": 1.0}[unit]
    return round(value * scale, decimals)


def test_every_figure_in_the_readme_tables_is_in_the_json_it_links():
    tables = list(_tables((REPO / "README.md").read_text()))
    result_tables = [(links, rows) for links, rows in tables
                     if any("%" in cell for row in rows for cell in row)]
    assert len(result_tables) >= 2  # one headline table per experiment
    for links, rows in result_tables:
        assert links, f"a results table without a JSON link: {rows[0]}"
        values = [v for link in links for v in _leaves(json.loads((REPO / link).read_text()))]
        header, body = rows[0], rows[2:]
        ours = [i for i, title in enumerate(header) if i and not title.lower().startswith("paper")]
        for row in body:
            for i in ours:
                cell = row[i].replace("*", "").replace(",", "")
                unit = "%" if cell.endswith("%") else ""
                for match in FIGURE.finditer(cell):
                    number, own = match.group(1), match.group(2) or unit
                    decimals = len(number.partition(".")[2])
                    assert any(_printed(v, own, decimals) == float(number) for v in values), (
                        f"{row[0]}: {match.group(0)} is in none of {links}")
