"""A real OpenLDAP server (Debian's `slapd`) for the directory's tests: started on a free
port with a throwaway database, the tree of `ORG` loaded, stopped at the end.

    with LdapServer(tmp_path) as ldap:
        ldap.url          # ldap://127.0.0.1:PORT
        ldap.add(ldif)    # more entries
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "secret-admin"
SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"

CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {dir}/slapd.pid
database mdb
maxsize 104857600
suffix "{suffix}"
rootdn "{admin}"
rootpw {password}
directory {dir}/data
index objectClass eq
index uid eq
access to attrs=userPassword by self =xw by anonymous auth by * none
access to * by * read
"""

ORG = f"""\
dn: {SUFFIX}
objectClass: top
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=总部,{SUFFIX}
objectClass: organizationalUnit
ou: 总部

dn: ou=研发部,ou=总部,{SUFFIX}
objectClass: organizationalUnit
ou: 研发部

dn: ou=市场部,ou=总部,{SUFFIX}
objectClass: organizationalUnit
ou: 市场部

dn: uid=zhangsan,ou=研发部,ou=总部,{SUFFIX}
objectClass: inetOrgPerson
uid: zhangsan
cn: 张三
sn: 张
mail: zhangsan@example.com
mobile: 13800000001
employeeNumber: L1
title: 工程师
userPassword: zs-password

dn: uid=lisi,ou=市场部,ou=总部,{SUFFIX}
objectClass: inetOrgPerson
uid: lisi
cn: 李四
sn: 李
mail: lisi@example.com
employeeNumber: L2
userPassword: ls-password
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LdapServer:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LdapServer:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        conf = self.folder / "slapd.conf"
        conf.write_text(CONFIG.format(dir=self.folder, suffix=SUFFIX, admin=ADMIN_DN, password=ADMIN_PASSWORD))
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(conf), "-h", self.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not start: {self.process.stderr.read().decode()[-2000:]}") from None
                time.sleep(0.05)
        self.add(ORG)
        return self

    def add(self, ldif: str) -> None:
        self.modify(ldif, "ldapadd")

    def modify(self, ldif: str, tool: str = "ldapmodify") -> None:
        r = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD],
            input=ldif.encode(), capture_output=True,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr.decode()

    def delete(self, dn: str) -> None:
        r = subprocess.run(["ldapdelete", "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, dn],
                           capture_output=True)  # fmt: skip
        assert r.returncode == 0, r.stderr.decode()

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
