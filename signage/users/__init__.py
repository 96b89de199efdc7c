"""People: signing in and out, the home page, the language switch and `/api/v1/me`
(`accounts.py`); users, roles and API tokens for the admin (`people.py`, `/admin/users`);
creating users and tokens from the CLI and demo data (`store.py`).

Who may do what is `signage.auth` (roles, sessions, tokens, CSRF), used by every route.
"""
