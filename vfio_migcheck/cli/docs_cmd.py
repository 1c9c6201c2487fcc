"""``vfio-migcheck docs [TOPIC]``: the documentation, wherever vfio-migcheck is installed."""

from __future__ import annotations

import click

from vfio_migcheck.cli.common import fail_usage
from vfio_migcheck.cli.completion import complete_topics


@click.command("docs")
@click.argument("topic", required=False, metavar="[TOPIC]", shell_complete=complete_topics)
@click.option("--path", "show_path", is_flag=True,
              help="Print where the page is (to open it in an editor or a browser).")
def docs_cmd(topic: str | None, show_path: bool) -> None:
    """List the documentation topics, or print one (e.g. capture-guide, checking, ci).

    TOPIC is a page name with or without docs/ and .md, as messages cite it.
    """
    from vfio_migcheck.userdocs import find_topic, topics

    if topic is None:
        found = topics()
        if not found:
            fail_usage("no documentation found next to this installation of vfio-migcheck")
        width = max(len(t.name) for t in found)
        for t in found:
            click.echo(f"{t.name:<{width}}  {t.title}")
        return
    page = find_topic(topic)
    if page is None:
        fail_usage(f"no documentation topic {topic!r}; 'vfio-migcheck docs' lists them")
    if show_path:
        click.echo(str(page.path))
        return
    text = page.path.read_text(encoding="utf-8")
    click.echo(text, nl=not text.endswith("\n"))
