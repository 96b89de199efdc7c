"""The organisation as a CSV or XLSX file, uploaded on the admin page or to
`POST /api/v1/directory/csv`. Its header (the template's):

    employee_no,name,email,mobile,department_path,title
    E1001,张三,zhangsan@example.com,13800000001,总部/研发部/平台组;总部/工会,工程师

A person is known by their employee number; a department by its path, so the same name
under two parents is two departments; `;` puts a person in several. The file is the whole
organisation: people of earlier files missing from it are deactivated.
"""

from __future__ import annotations

import csv
import io

from signage.directory.sync import Dept, Person, Snapshot

HEADER = ("employee_no", "name", "email", "mobile", "department_path", "title")
SAMPLE = (
    ("E1001", "张三", "zhangsan@example.com", "13800000001", "总部/研发部/平台组;总部/工会", "工程师"),
    ("E1002", "Li Lei", "lilei@example.com", "", "总部/市场部", "Manager"),
)
MAX_ROWS = 100_000


class Unreadable(ValueError):
    """The file is not a CSV or XLSX file with the template's header."""


def template_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(SAMPLE)
    return out.getvalue().encode("utf-8-sig")  # the BOM lets Excel read it as UTF-8


def template_xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "people"
    sheet.append(HEADER)
    for row in SAMPLE:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_of(data: bytes, filename: str = "") -> list[list[str]]:
    """The file's rows as text: XLSX by its signature, else CSV in UTF-8 (with or
    without a BOM) or GB18030 (what Excel saves on a Chinese Windows)."""
    if data[:4] == b"PK\x03\x04":
        return xlsx_rows(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Unreadable("the file is neither UTF-8 nor GB18030 text")
    if "\x00" in text:
        raise Unreadable("the file is not text")
    try:
        return [row for row in csv.reader(io.StringIO(text))]
    except csv.Error as exc:
        raise Unreadable(f"the file is not CSV: {exc}") from None


def xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise Unreadable(f"the file is not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(
                ["" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in row]
            )
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def snapshot(data: bytes, filename: str = "") -> Snapshot:
    """The people and departments of the file; a wrong row is an error naming its line."""
    rows = rows_of(data, filename)
    if not rows:
        raise Unreadable("the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    missing = [h for h in ("employee_no", "name") if h not in header]
    if missing:
        raise Unreadable(f"the first row must be the header {','.join(HEADER)} (missing {missing[0]})")
    if len(rows) > MAX_ROWS + 1:
        raise Unreadable(f"the file has more than {MAX_ROWS} people")
    col = {h: i for i, h in enumerate(header) if h in HEADER}
    out = Snapshot()
    depts: dict[str, Dept] = {}
    for line, row in enumerate(rows[1:], 2):
        if not any(cell.strip() for cell in row):
            continue
        get = lambda name, row=row: row[col[name]].strip() if name in col and col[name] < len(row) else ""  # noqa: E731
        no, name = get("employee_no"), get("name")
        if not no or not name:
            out.errors.append({"line": line, "message": f"line {line}: employee_no and name are needed"})
            continue
        if len(no) > 64 or len(name) > 200:
            out.errors.append({"line": line, "message": f"line {line}: employee_no or name is too long"})
            continue
        email = get("email").lower()
        if email and ("@" not in email or len(email) > 254 or " " in email):
            out.errors.append({"line": line, "message": f"line {line}: {email} is not an email address"})
            continue
        paths = []
        for raw in get("department_path").replace("；", ";").split(";"):
            parts = [p.strip() for p in raw.replace("\\", "/").split("/") if p.strip()]
            if not parts:
                continue
            if any(len(p) > 200 for p in parts):
                out.errors.append({"line": line, "message": f"line {line}: a department name is too long"})
                parts = []
            for depth in range(len(parts)):
                path = "/".join(parts[: depth + 1])
                if path not in depts:
                    parent = "/".join(parts[:depth]) or None
                    depts[path] = Dept(id=path, name=parts[depth], parent=parent, sort=len(depts))
            if parts:
                paths.append("/".join(parts))
        out.people.append(
            Person(
                id=no,
                name=name,
                email=email,
                mobile=get("mobile")[:30],
                employee_no=no,
                title=get("title")[:200],
                departments=tuple(dict.fromkeys(paths)),
            )
        )
    out.departments = list(depts.values())
    return out
