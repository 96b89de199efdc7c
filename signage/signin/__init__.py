"""Signing in the way employees already do, beside local passwords (which stay for admins
and sites with no directory):

    passwords.py   the directory's password: an LDAP / Active Directory bind
    (next: DingTalk in-app sign-in, WeCom OAuth, OpenID Connect: issue 19 points 5–6)

Whatever the way, a person signs in to the account their directory entry is linked to
(`User.directory_source`, `User.directory_id`), never to another with the same name.
"""
