"""A site's access to its school's data through Wonde.

A site (one ``wonde_connections`` row per site) moves through these states::

    (none) --request access--> pending --school approves (schoolApproved + token)--> approved
    pending --school declines--> declined          approved --school revokes--> revoked
    declined | revoked --request access again--> pending
    approved on Wonde, no token here --> "School Already Approved": Revoke & Re-request

``status`` holds the contract values (pending/approved/declined/revoked); "School Already
Approved" is ``approved`` without a school token. Tokens are stored only encrypted and
never logged. Where each part lives:

* :mod:`.status`: each state as the admin reads it, and the actions it allows;
* :mod:`.admin_actions`: what the admin does (request access, Revoke & Re-request,
  enable or disable), validated by :mod:`.contact_form`;
* :mod:`.transitions`: what the school decides (approve, decline, revoke, migrate MIS);
  every approval is recorded by ``transitions.record_approval``;
* :mod:`.webhook_receiver`: Wonde's webhooks, journaled, turned into transitions;
* :mod:`.reconcile`: Wonde's lists compared with every site, to repair missed webhooks;
* :mod:`.import_targets`: the sites imports may run for, with their tokens;
* :mod:`.rows`: reading and writing the rows; each change bumps ``lifecycle_version``
  and is journaled in ``wonde_connection_history``;
* :mod:`.token_vault`: school tokens encrypted at rest; :mod:`.errors`: why an action fails.
"""
