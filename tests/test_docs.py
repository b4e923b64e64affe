"""The repository stands alone: every document it cites is in it (issue #18 item 1).

Code, README, CI and deploy files cite the project's own ``docs/`` by path and section heading
(``docs/architecture.md "What must hold"``). These tests read every tracked text file and fail
on a cited file the repository does not contain, a cited section that is not a heading of that
file, a relative Markdown link that leads nowhere, or a citation of a document that lives only
outside the repository.
"""

import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
BINARY = {".png", ".jpg", ".jpeg", ".webp", ".mp4", ".ico", ".woff", ".woff2", ".gz", ".zip"}
SKIP_DIRS = {".git", ".venv", "node_modules", "staticfiles", "media", "__pycache__"}
# A docs path, then (on the same line) the quoted section heading it cites, if any.
CITATION = re.compile(r"(docs/[\w/.-]+?\.md)(?:\)|`)?\s+\"([^\"\n]+)\"")
DOC_PATH = re.compile(r"(?<![\w/.])(docs/[\w/.-]+?\.md)\b")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
# Documents that exist only outside the repository (spelled in pieces so this file does not
# cite them itself).
OUTSIDE = re.compile(r"\b(?:" + "|".join(["DESIGN", "CONTRACT", "STYLE"]) + r")\.md\b|\.\./shared/")


def tracked_text_files() -> list[Path]:
    """Return the repository's text files (``git ls-files``, or a walk without git)."""
    try:
        names = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.split("\n")
        paths = [ROOT / name for name in names if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(ROOT).parts)
        ]
    return [
        path
        for path in paths
        if path.suffix.lower() not in BINARY and path.exists() and path != Path(__file__)
    ]


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""


def headings(doc: Path) -> set[str]:
    return {
        line.lstrip("#").strip()
        for line in read(doc).splitlines()
        if line.startswith("#") and not line.startswith("#!")
    }


FILES = tracked_text_files()


def test_the_scan_sees_the_code_and_its_citations():
    """Guard against a scan that silently reads nothing (it would pass every check below)."""
    cited = {m for path in FILES for m in DOC_PATH.findall(read(path))}
    assert len(FILES) > 100
    assert {"docs/architecture.md", "docs/providers/apixo.md", "docs/prices.md"} <= cited


def test_every_cited_document_is_in_the_repository():
    missing = sorted(
        f"{path.relative_to(ROOT)}: {doc}"
        for path in FILES
        for doc in set(DOC_PATH.findall(read(path)))
        if not (ROOT / doc).is_file()
    )
    assert missing == []


def test_every_cited_section_is_a_heading_of_its_document():
    wrong = sorted(
        f"{path.relative_to(ROOT)}: {doc} {section!r}"
        for path in FILES
        for doc, section in CITATION.findall(read(path))
        if (ROOT / doc).is_file() and section not in headings(ROOT / doc)
    )
    assert wrong == []


@pytest.mark.parametrize(
    "doc",
    sorted(
        p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]
    ),
)
def test_relative_links_in_the_docs_lead_somewhere(doc):
    path = ROOT / doc
    broken = []
    for target in MD_LINK.findall(read(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL (http:, mailto:) or an anchor in the same page
        if not (path.parent / target.split("#", 1)[0]).exists():
            broken.append(target)
    assert broken == []


def test_nothing_cites_a_document_outside_the_repository():
    outside = sorted(
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in FILES
        for number, line in enumerate(read(path).splitlines(), 1)
        if OUTSIDE.search(line)
    )
    assert outside == []
