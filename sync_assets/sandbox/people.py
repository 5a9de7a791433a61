"""French-looking synthetic people, places and contacts, from a seeded random generator.

They look real on purpose: a leak of one of them into a log line, an error or Sentry is easy to
spot by value. None of them is a real person's data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

FIRST_NAMES = (
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Jade",
    "Louise",
    "Zoé",
    "Lina",
    "Rose",
    "Margaux",
    "Anaïs",
    "Élodie",
    "Gwenaëlle",
    "Solène",
    "Bérénice",
    "Maëlys",
    "Apolline",
    "Clémence",
    "Océane",
    "Nathalie",
    "Sylvie",
    "Isabelle",
    "Françoise",
    "Martine",
    "Brigitte",
    "Josiane",
    "Yvette",
    "Ginette",
    "Odile",
    "Lucas",
    "Hugo",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Mathis",
    "Raphaël",
    "Théo",
    "Nathan",
    "Maël",
    "Gaëtan",
    "Loïc",
    "Yannick",
    "Erwan",
    "Thibault",
    "Aurélien",
    "Benoît",
    "Étienne",
    "Jérôme",
    "Hervé",
    "Didier",
    "Gérard",
    "Jean-Pierre",
    "Jean-Claude",
    "Marcel",
    "Lucien",
    "Gilbert",
    "Maurice",
    "Raymond",
    "Karim",
    "Yasmine",
    "Mehdi",
    "Samira",
    "Nadia",
    "Rachid",
    "Fatoumata",
    "Moussa",
    "Aïssatou",
    "Sofiane",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Le Gall",
    "Le Goff",
    "Kerjean",
    "Le Bihan",
    "Tanguy",
    "Quéré",
    "Guillou",
    "Le Roux",
    "Cadiou",
    "Prigent",
    "Etcheverry",
    "Iriart",
    "Bordenave",
    "Lacoste",
    "Fabre",
    "Rouquette",
    "Chabert",
    "Vidal",
    "Roussel",
    "Benali",
    "Haddad",
    "Diallo",
    "Traoré",
    "Nguyen",
    "Tran",
    "Da Silva",
    "Pereira",
    "Ferreira",
    "Schmitt",
    "Muller",
    "Meyer",
    "Klein",
    "Wagner",
    "Weber",
    "Beaumont",
    "Delacroix",
    "Chevalier",
    "Gauthier",
    "Perrin",
)
STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "place de la Mairie",
    "rue Pasteur",
    "boulevard Gambetta",
    "rue des Écoles",
    "chemin des Vignes",
    "allée des Tilleuls",
    "rue du Moulin",
    "impasse des Lilas",
    "avenue de la Gare",
    "rue Émile Zola",
    "quai des Bateliers",
    "route de Nantes",
    "rue de l'Église",
    "rue des Acacias",
    "cours Lafayette",
    "rue Jeanne d'Arc",
    "rue du Général Leclerc",
)
CITIES = (
    ("Brest", "29200"),
    ("Quimper", "29000"),
    ("Rennes", "35000"),
    ("Nantes", "44000"),
    ("Lyon", "69003"),
    ("Villeurbanne", "69100"),
    ("Marseille", "13005"),
    ("Toulouse", "31000"),
    ("Bordeaux", "33000"),
    ("Pau", "64000"),
    ("Lille", "59000"),
    ("Roubaix", "59100"),
    ("Strasbourg", "67000"),
    ("Metz", "57000"),
    ("Dijon", "21000"),
    ("Limoges", "87000"),
    ("Clermont-Ferrand", "63000"),
    ("Amiens", "80000"),
    ("Saint-Denis", "93200"),
    ("Montreuil", "93100"),
    ("Créteil", "94000"),
    ("Évry-Courcouronnes", "91000"),
)
MAIL_DOMAINS = ("courriel-exemple.fr", "boite-mail.test", "messagerie.example", "fournisseur-mail.test")
ANONYMISED_NAME = "Usager supprimé"
UNKNOWN_BIRTH_DATE = date(1900, 1, 1)  # what RDV Service Public sends when the birth date is unknown


def _ascii(text: str) -> str:
    table = str.maketrans("éèêëàâäîïôöùûüçÉÈÊËÀÂÎÏÔÖÙÛÜÇ' ", "eeeeaaaiioouuucEEEEAAIIOOUUUC--")
    return text.translate(table).lower()


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    email: str
    phone_number: str  # national form, e.g. 06 12 34 56 78 without spaces
    birth_date: date
    address: str


def person(rng: random.Random, number: int) -> Person:
    """A person; `number` keeps emails unique across a dataset."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, postcode = rng.choice(CITIES)
    mobile = f"0{rng.choice('67')}{rng.randrange(10**8):08d}"
    born = date(rng.randrange(1935, 2007), rng.randrange(1, 13), rng.randrange(1, 29))
    return Person(
        first_name=first,
        last_name=last.upper() if rng.random() < 0.3 else last,
        email=f"{_ascii(first)}.{_ascii(last)}{number}@{rng.choice(MAIL_DOMAINS)}",
        phone_number=mobile,
        birth_date=born,
        address=f"{rng.randrange(1, 180)} {rng.choice(STREETS)}, {city}, {postcode}",
    )


def international(phone_number: str) -> str:
    """0612345678 -> +33612345678."""
    return "+33" + phone_number[1:]


def place_address(rng: random.Random) -> str:
    city, postcode = rng.choice(CITIES)
    return f"{rng.randrange(1, 80)} {rng.choice(STREETS)}, {city}, {postcode}"


def office_phone(rng: random.Random) -> str:
    return f"0{rng.choice('12345')}{rng.randrange(10**8):08d}"
