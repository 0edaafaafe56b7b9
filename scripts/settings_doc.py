"""Print (or write into README.md) the table of every setting, from the settings classes.

    python -m scripts.settings_doc            # print the table
    python -m scripts.settings_doc --write    # replace the table between the README markers
"""

from __future__ import annotations

import sys
from pathlib import Path

from kit.settings import ServiceSettings, Settings
from services.availability.settings import AvailabilitySettings
from services.booking.settings import BookingSettings
from services.directory.settings import DirectorySettings
from services.identity.settings import IdentitySettings

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
SECTIONS: list[tuple[str, type[Settings]]] = [
    ("every service", ServiceSettings),
    ("identity", IdentitySettings),
    ("directory", DirectorySettings),
    ("availability", AvailabilitySettings),
    ("booking", BookingSettings),
]


def table() -> str:
    common = {env for env, _, _ in ServiceSettings.documentation()}
    lines = ["| variable | default | service | meaning |", "|---|---|---|---|"]
    for section, cls in SECTIONS:
        for env, default, doc in cls.documentation():
            if section != "every service" and env in common:
                continue
            shown = f"`{default}`" if default else "(empty)"
            lines.append(f"| `{env}` | {shown} | {section} | {doc} |")
    return "\n".join(lines)


def readme_with_table(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table()}\n{END}{tail}"


def main() -> int:
    if "--write" in sys.argv:
        path = ROOT / "README.md"
        path.write_text(readme_with_table(path.read_text()))
        print("README.md settings table updated")
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
