"""A third connector, in one folder, registered in the tests only: an invoicing API read per company
(the shape of Pennylane or INPI), built from the platform's parts alone. docs/adding-a-connector.md
walks through it; it passes the conformance suite (../test_conformance.py)."""
