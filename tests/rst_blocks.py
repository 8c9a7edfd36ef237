"""The code blocks of an rst page, so that tests run the very text the docs show."""

import textwrap


def code_blocks(text: str, language: str) -> list[str]:
    """The bodies of the ``.. code-block:: language`` directives of an rst page."""
    blocks = []
    for part in text.split(f".. code-block:: {language}\n")[1:]:
        lines = []
        for line in part.splitlines()[1:]:
            if line.strip() and not line.startswith("   "):
                break
            lines.append(line)
        blocks.append(textwrap.dedent("\n".join(lines)).strip("\n") + "\n")
    return blocks
