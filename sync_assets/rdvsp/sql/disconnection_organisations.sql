-- The organisations an account being disconnected reaches (its links, and the webhooks it
-- installed), with our webhook installation there and the lowest other connected account that
-- still belongs to the organisation (NULL: no connected account needs its webhook any more).
WITH organisations AS (
    SELECT organisation_id FROM rdvsp.account_organisations WHERE account_id = %(account_id)s
    UNION
    SELECT organisation_id FROM rdvsp.webhook_installations WHERE account_id = %(account_id)s
)
SELECT o.organisation_id, w.endpoint_id, w.status,
       (SELECT min(ao.account_id)
        FROM rdvsp.account_organisations ao
        JOIN rdvsp.accounts a ON a.id = ao.account_id
        WHERE ao.organisation_id = o.organisation_id AND ao.account_id <> %(account_id)s
          AND a.status <> 'disconnected') AS needed_by
FROM organisations o
LEFT JOIN rdvsp.webhook_installations w ON w.organisation_id = o.organisation_id
ORDER BY o.organisation_id;
