"""Outbound webhooks (Standard Webhooks 1.0): an OA follows our changes as signed POSTs.

- `models.py`: subscriptions (`webhook_endpoints`: URL, event filter, secret) and the
  delivery table (`webhook_deliveries`, one row per message to one subscription).
- `deliveries.py`: the `webhooks` consumer of the event log queues a delivery per event
  and matching subscription, in the event's delivery transaction; the worker in every
  process signs and sends them, in order per subscription, with retries and leases.
- `subscriptions.py`: `/api/v1/webhooks` (create, list, change, delete, rotate, test).
- `admin.py`: `/admin/webhooks`, the subscriptions and their delivery log, with "send again".

URLs go through `signage.outbound` (no private addresses unless
SIGNAGE_WEBHOOK_ALLOW_PRIVATE=1).
"""
