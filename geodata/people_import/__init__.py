"""Bulk import of people from CSV and XLSX files (docs/import.md): grid workers (the whole
roster of a prefecture in one file, a re-import updates by employee number) and departments
(with their cells of responsibility, a re-import updates by code) and residents (ID numbers
checked, a re-import updates by ID number, the import security-logged), with one
template file per kind. Every row is checked first; the load is set-based (COPY into a
temporary table, then INSERT … ON CONFLICT / UPDATE … FROM) in the caller's transaction."""

from geodata.people_import.departments import (
    DEPARTMENT_COLUMNS,
    DepartmentImport,
    department_template_rows,
    import_departments,
)
from geodata.people_import.residents import (
    RESIDENT_COLUMNS,
    ResidentImport,
    check_id_number,
    import_residents,
    resident_template_rows,
)
from geodata.people_import.table import TableError, read_table, write_template
from geodata.people_import.workers import (
    WORKER_COLUMNS,
    WorkerImport,
    import_workers,
    worker_template_rows,
)

__all__ = [
    "DEPARTMENT_COLUMNS",
    "DepartmentImport",
    "RESIDENT_COLUMNS",
    "ResidentImport",
    "check_id_number",
    "import_residents",
    "resident_template_rows",
    "department_template_rows",
    "import_departments",
    "WORKER_COLUMNS",
    "TableError",
    "WorkerImport",
    "import_workers",
    "read_table",
    "worker_template_rows",
    "write_template",
]
