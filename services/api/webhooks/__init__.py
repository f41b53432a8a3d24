"""Webhooks: the tenant's events as signed HTTP POSTs to URLs the tenant registered.

Two parts run in every API instance (`app.py` starts and stops them):

- `matcher.EventMatcher` consumes the tenants' events from one shared durable queue (`webhooks`,
  competing consumers: each event reaches one instance) and records a `WebhookDeliveryScheduled`
  per matching webhook, under a delivery id derived from (webhook, event), so a redelivered message
  schedules nothing twice.
- `dispatcher.DeliveryDispatcher` sends them. Only the instance holding the webhook lease (a lease
  in the store, as the scheduler's) sends, so no delivery is posted by two instances at once; it
  rebuilds the pending deliveries from the log when it takes the lease (nothing is dropped by a
  restart) and learns of new ones from its own queue (`webhook-deliveries`).

The rest is pure or small: URL rules (`urls`), event patterns (`patterns`), the retry schedule
(`backoff`), the signature (`signing`), the request (`sender`), the secret's storage (`secret_store`).
"""
