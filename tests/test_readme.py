"""#30.8: the README says what the commands do: its links land on a heading, its Usage block names
every subcommand, and its Slurm signal recipe is the one examples/cluster/slurm.sh uses."""

import re
from pathlib import Path

import pytest

from nst.cli.command import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("doc", ["README.md", "benchmarks/README.md"])
def test_every_link_to_a_section_lands_on_a_heading(doc):
    path = ROOT / doc
    text = path.read_text()
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", text):
        where = (path.parent / target) if target else path
        if where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target}#{anchor}")
    assert not broken, f"{doc}: links to no heading: {broken}"


def test_the_usage_block_names_every_subcommand():
    usage = README.read_text().split("## Usage", 1)[1].split("```", 2)[1]
    missing = [name for name in SUBCOMMANDS if not re.search(rf"^nst {name}\b", usage, flags=re.M)]
    assert not missing, f"README Usage lacks: {missing}"


def test_the_slurm_signal_recipe_is_the_example_scripts():
    script = (ROOT / "examples/cluster/slurm.sh").read_text()
    (used,) = re.findall(r"^#SBATCH --signal=(\S+)", script, flags=re.M)
    assert used.startswith("B:") and re.search(r"^exec nst ", script, flags=re.M), \
        "B: signals only the batch shell, which must then be nst itself (exec)"
    advised = re.findall(r"#SBATCH --signal=(\S+?)`", README.read_text())
    assert advised and set(advised) == {used}


def test_the_video_shard_paragraphs_agree():
    """The Video section defers to Clusters for where a shard starts; neither says it starts cold only."""
    text = README.read_text()
    video = text.split("## Video and frame sequences", 1)[1].split("\n## ", 1)[0]
    shards = video.split("**Shards.**", 1)[1].split("\n\n", 1)[0]
    assert "starts cold" not in shards and "(#clusters)" in shards
