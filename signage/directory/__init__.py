"""The organisation: departments, people and where they are synchronised from (DingTalk,
WeCom, LDAP, a CSV/XLSX file), for attendee pickers, statistics and billing by department.

    models.py   departments, memberships, sources, sync runs
    search.py   names as pinyin initials; finding people and departments as one types
    sync.py     a source's snapshot against the database: the difference, then applied
    sources/    what each source reads (csv.py, ldap.py, dingtalk.py, wecom.py)
    api.py      GET /api/v1/departments, /api/v1/people, POST /api/v1/directory/csv
    admin.py    the admin pages: the tree, people, sources, runs
"""
