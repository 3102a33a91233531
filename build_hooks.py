"""Build step for the wheel: the flows and the compiled catalogs go inside the package.

The repository keeps ``flows/`` and ``locales/`` at the top, next to ``bot/``, where
editors and translators find them. A wheel has only packages, so ``build_py`` copies the
flows to ``bot/shipped/flows`` and compiles each ``locales/<lang>/LC_MESSAGES/<domain>.po``
(the applicants' ``messages`` and the staff's ``backoffice``) to
``bot/shipped/locales/<lang>/LC_MESSAGES/<domain>.mo`` with Babel; a catalog that
``pybabel compile`` would reject fails the build. ``bot.resources`` looks there first.
An editable install skips this: it reads the checkout's own folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = Path("bot") / "shipped"


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / SHIPPED
            if target.exists() and not self.dry_run:
                shutil.rmtree(target)  # what an earlier build left: a flow deleted since
            self._copy_flows(target / "flows")
            self._compile_catalogs(target / "locales")

    def _copy_flows(self, target: Path) -> None:
        source = ROOT / "flows"
        for path in sorted(source.rglob("*.yml")):
            self._write(target / path.relative_to(source), path.read_bytes())

    def _compile_catalogs(self, target: Path) -> None:
        from io import BytesIO

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted((ROOT / "locales").glob("*/LC_MESSAGES/*.po")):  # messages and backoffice
            code = po.parent.parent.name
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=code)
            errors = [f"{po.relative_to(ROOT)}:{message.lineno}: {error}"
                      for message, found in catalog.check() for error in found]
            if errors:
                raise SystemExit("catalogs that do not compile:\n" + "\n".join(errors))
            buffer = BytesIO()
            write_mo(buffer, catalog)
            self._write(target / code / "LC_MESSAGES" / po.with_suffix(".mo").name, buffer.getvalue())

    def _write(self, path: Path, data: bytes) -> None:
        self.announce(f"writing {path}", level=2)
        if not self.dry_run:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
