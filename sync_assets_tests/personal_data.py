"""The sandbox's people, and a search for their personal data in text (logs, Dagster events,
Sentry events).

Every value is a candidate pulled from the text by its shape (emails, phone numbers, dates of
birth, street addresses, capitalised words and pairs of them) and looked up in the sets of the
sandbox people's values: one pass over the text, however many people there are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_EMAILS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONES = re.compile(r"\+?\d[\d .-]{7,}\d")
_ISO_DATES = re.compile(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)\b")
_FRENCH_DATES = re.compile(r"\b(\d\d)/(\d\d)/((?:19|20)\d\d)\b")
_STREETS = re.compile(
    r"\b\d+(?: ?(?:bis|ter))? (?:rue|avenue|boulevard|place|chemin|allée|impasse|route|quai|cours)"
    r"\b[^,\n\"'}\]]*",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\b[A-ZÀ-Þ][\w'-]+\b")
UNKNOWN_BIRTH_DATE = date(1900, 1, 1)  # RDV Service Public's placeholder, not a person's


def _phone_key(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    return digits[-9:] if len(digits) >= 9 else None


def _street(address: str) -> str:
    return address.split(",")[0].strip().lower()


@dataclass
class PersonalValues:
    """Names, emails, phone numbers, birth dates and addresses of people."""

    names: set[str] = field(default_factory=set)  # "first last", lower case, both orders
    last_names: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # the last nine digits
    birth_dates: set[date] = field(default_factory=set)
    streets: set[str] = field(default_factory=set)

    def add(self, first_name=None, last_name=None, email=None, phone=None, birth_date=None, address=None) -> None:
        if first_name and last_name:
            self.names.add(f"{first_name} {last_name}".lower())
            self.names.add(f"{last_name} {first_name}".lower())
        if last_name and len(last_name) >= 4:  # shorter ones are ordinary words too often
            self.last_names.add(last_name.lower())
        if email:
            self.emails.add(email.lower())
        if phone and _phone_key(phone):
            self.phones.add(_phone_key(phone))
        if birth_date:
            moment = birth_date if isinstance(birth_date, date) else date.fromisoformat(birth_date)
            if moment != UNKNOWN_BIRTH_DATE:
                self.birth_dates.add(moment)
        if address:
            self.streets.add(_street(address))

    def add_rdvsp_world(self, world) -> None:
        for user in world.users.values():
            self.add(user.first_name, user.last_name, user.email, user.phone_number, user.birth_date, user.address)
            self.add(user.first_name, user.birth_name)
        for agent in world.agents.values():
            self.add(agent.first_name, agent.last_name, agent.email)

    def add_doctolib_world(self, world) -> None:
        for patient in world.patients.values():
            self.add(
                patient["first_name"], patient["last_name"], patient["email"], patient["phone"], patient["birth_date"]
            )
        for practitioner in world.practitioners.values():  # "Dr First Last"
            first, _, last = practitioner.removeprefix("Dr ").partition(" ")
            self.add(first, last)

    def found_in(self, text: str) -> dict[str, set[str]]:
        """The personal values the text holds, by kind (empty when none)."""
        found = {
            "email": {e.lower() for e in _EMAILS.findall(text)} & self.emails,
            "phone": {k for k in (_phone_key(p) for p in _PHONES.findall(text)) if k} & self.phones,
            "birth date": {str(d) for d in self._dates(text) & self.birth_dates},
            "address": {_street(s) for s in _STREETS.findall(text)} & self.streets,
        }
        words = [w.lower() for w in _WORDS.findall(text)]
        found["name"] = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)} & self.names
        found["last name"] = set(words) & self.last_names
        return {kind: values for kind, values in found.items() if values}

    @staticmethod
    def _dates(text: str) -> set[date]:
        dates = set()
        for year, month, day in _ISO_DATES.findall(text):
            dates.add(_date(year, month, day))
        for day, month, year in _FRENCH_DATES.findall(text):
            dates.add(_date(year, month, day))
        return dates - {None}


def _date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None
