"""A guard over the whole test run: no sandbox person's personal data (RDV Service Public users
and agents, Doctolib patients and practitioners) reaches a `sync_assets` log record, after
redaction, as handlers see it.

Every sandbox world built during the run registers its people; every record of the
`sync_assets` loggers, at every level, is kept as text; at the end of the session the text is
searched for their values (`personal_data.PersonalValues`).
"""

from __future__ import annotations

import logging

from sync_assets.sandbox.doctolib_world import DoctolibWorld
from sync_assets.sandbox.rdvsp_world import RdvspWorld
from sync_assets_tests.personal_data import PersonalValues

_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}


class PersonalDataGuard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.people = PersonalValues()
        self._restore = None

    def emit(self, record: logging.LogRecord) -> None:
        extras = " ".join(str(v) for k, v in vars(record).items() if k not in _STANDARD)
        self.texts.append(f"{record.getMessage()} {extras}")

    def register(self, patients) -> None:
        for patient in patients:
            self.people.add(
                patient["first_name"], patient["last_name"], patient["email"], patient["phone"], patient["birth_date"]
            )

    def install(self) -> None:
        doctolib_init, rdvsp_init = DoctolibWorld.__post_init__, RdvspWorld.__init__

        def doctolib_recording(world: DoctolibWorld) -> None:
            doctolib_init(world)
            self.people.add_doctolib_world(world)

        def rdvsp_recording(world: RdvspWorld, *args, **kwargs) -> None:
            rdvsp_init(world, *args, **kwargs)
            self.people.add_rdvsp_world(world)

        DoctolibWorld.__post_init__ = doctolib_recording
        RdvspWorld.__init__ = rdvsp_recording
        project = logging.getLogger("sync_assets")
        level = project.level
        project.setLevel(logging.DEBUG)
        project.addHandler(self)

        def restore() -> None:
            DoctolibWorld.__post_init__, RdvspWorld.__init__ = doctolib_init, rdvsp_init
            project.removeHandler(self)
            project.setLevel(level)

        self._restore = restore

    def leaks(self) -> list[str]:
        found = self.people.found_in("\n".join(self.texts))
        return sorted(value for values in found.values() for value in values)

    def uninstall(self) -> None:
        if self._restore:
            self._restore()
