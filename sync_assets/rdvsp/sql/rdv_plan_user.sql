-- What a plan for an RDV Service Public user sends about that user, as the warehouse holds it.
SELECT first_name, last_name, email, phone_number, address FROM rdvsp.users WHERE id = %(user_id)s;
