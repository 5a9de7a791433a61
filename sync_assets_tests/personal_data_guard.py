"""A guard over the whole test run: no Doctolib sandbox patient's name, email or phone number
reaches a `sync_assets` log record (after redaction, as handlers see it).

Every DoctolibWorld built during the run registers its patients; every record of the
`sync_assets` loggers, at every level, is kept as text; at the end of the session the text is
searched for those values. Emails, phone numbers and "First Last" pairs are extracted from the
text with patterns, then compared with the patients' values as sets (a scan per value would be
too slow over a whole run's logs).
"""

from __future__ import annotations

import logging
import re

from sync_assets.sandbox.doctolib_world import DoctolibWorld

_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}
_EMAILS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONES = re.compile(r"\+?\d[\d .]{8,}\d")
_NAME_PAIRS = re.compile(r"(?=\b([A-ZÀ-Þ][\w'-]+ [A-ZÀ-Þ][\w'-]+)\b)")


class PersonalDataGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.names: set[str] = set()
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self._restore = None

    def emit(self, record: logging.LogRecord) -> None:
        extras = " ".join(str(v) for k, v in vars(record).items() if k not in _STANDARD)
        self.texts.append(f"{record.getMessage()} {extras}")

    def register(self, patients) -> None:
        for patient in patients:
            self.names.add(f"{patient['first_name']} {patient['last_name']}")
            self.emails.add(patient["email"])
            self.phones.add(re.sub(r"\D", "", patient["phone"]))

    def install(self) -> None:
        original = DoctolibWorld.__post_init__

        def recording(world: DoctolibWorld) -> None:
            original(world)
            self.register(world.patients.values())

        DoctolibWorld.__post_init__ = recording
        project = logging.getLogger("sync_assets")
        level = project.level
        project.setLevel(logging.DEBUG)
        project.addHandler(self)

        def restore() -> None:
            DoctolibWorld.__post_init__ = original
            project.removeHandler(self)
            project.setLevel(level)

        self._restore = restore

    def leaks(self) -> list[str]:
        text = "\n".join(self.texts)
        found = set(_EMAILS.findall(text)) & self.emails
        found |= {m for m in (re.sub(r"\D", "", p) for p in _PHONES.findall(text)) if m in self.phones}
        found |= set(_NAME_PAIRS.findall(text)) & self.names
        return sorted(found)

    def uninstall(self) -> None:
        if self._restore:
            self._restore()
