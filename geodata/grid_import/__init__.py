"""Import grid boundaries from surveyors' files (``gridcmd import grids``; docs/import.md).

Modules, in pipeline order: :mod:`.read` (formats, encodings), :mod:`.fields` (which field is
the code, name, parent, population), :mod:`.validate` (values, geometry repair, codes and
parents), :mod:`.reproject` (any CRS to EPSG:4326), :mod:`.topology` (the report),
:mod:`.load` (the SQL: scope, write, derived columns), :mod:`.replace` (what ``--replace``
keeps consistent), :mod:`.pipeline` (the whole, all rows or none).
"""

from geodata.grid_import.pipeline import ImportOptions, ImportResult, import_grids
from geodata.grid_import.problems import GridImportError, Problem

__all__ = ["GridImportError", "ImportOptions", "ImportResult", "Problem", "import_grids"]
