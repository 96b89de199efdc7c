"""What each source reads into a `sync.Snapshot`: a CSV/XLSX file (upload.py), LDAP or
Active Directory (ldap.py), DingTalk contacts (dingtalk.py), WeCom contacts (wecom.py)."""

from signage.directory.sources import dingtalk, ldap, wecom

SOURCES = {m.name: m for m in (dingtalk, wecom, ldap)}  # the sources read from a server; "csv" is uploaded
