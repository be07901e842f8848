CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE grid_cell_lod (
	band SMALLINT NOT NULL,
	cell_id BIGINT NOT NULL REFERENCES grid_cell (id) ON DELETE CASCADE,
	level SMALLINT NOT NULL,
	geom geometry(MULTIPOLYGON,4326) NOT NULL,
	n_vertices INTEGER NOT NULL,
	PRIMARY KEY (band, cell_id),
	CONSTRAINT ck_grid_cell_lod_level CHECK (level BETWEEN 1 AND 6)
);

CREATE INDEX ix_grid_cell_lod_band_level_geom ON grid_cell_lod USING gist (band, level, geom);

CREATE TABLE grid_meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL
);
