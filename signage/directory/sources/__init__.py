"""What each source reads into a `sync.Snapshot`: a CSV/XLSX file (upload.py), LDAP or
Active Directory (ldap.py), DingTalk contacts (dingtalk.py), WeCom contacts (wecom.py)."""
