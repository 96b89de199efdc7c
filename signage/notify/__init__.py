"""Notifications (SPEC B6): invitations and notices, through a delivery outbox.

- `smtp.py`: the SMTP server of `SIGNAGE_SMTP_URL` (aiosmtplib).
- `models.py`: the outbox (`notify_messages`, one row per message to one recipient) and
  the calendar state of invitations (their SEQUENCE, the slot of each occurrence).
- `invites.py`: booking events → RFC 5546 mails (REQUEST, CANCEL) and notices, queued in
  the event's delivery transaction (the `notify` consumer of the event log).
- `mail.py`: one mail: multipart/alternative text, HTML and text/calendar, the .ics.
- `outbox.py`: the worker in every process that sends what is due on every channel that is
  on, with back-off, rate limits and the fallback to the next channel.
- `channels/`: one adapter per provider (DingTalk, WeCom, Aliyun and Tencent SMS, WeChat).
- `routing.py`: which channels a notice goes by for whom (choices, site defaults, fallback).
- `admin.py`: `/admin/notifications`, the outbox for admins, with retry.
- `channels_admin.py`: `/admin/notifications/channels`, each channel's settings and "send test".
- `preferences.py`: a user's contacts, channels per kind and reminder minutes (`/account`).

Saving a booking never waits for a channel: the write path only records its events.
"""
