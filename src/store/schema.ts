/**
 * Schema migrations, run in order at open. PRAGMA user_version records how
 * many have run; each runs in its own transaction, so a crash mid-migration
 * leaves the previous version intact. Append new steps; never edit old ones.
 */
export const MIGRATIONS: string[] = [
  // 1: the first schema.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  -- id doubles as the directory number in radio service numbers: AUTOINCREMENT
  -- so a removed directory's number is never handed out again.
  CREATE TABLE directories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    source TEXT,
    next_entry INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    last_sync_at INTEGER
  );
  -- directory number 0: channels added by hand (plan.ts)
  INSERT INTO directories (id, name, kind, created_at) VALUES (0, 'manual', 'manual', 0);

  CREATE TABLE channels (
    id INTEGER PRIMARY KEY,
    service_number INTEGER NOT NULL UNIQUE,
    group_addr TEXT NOT NULL UNIQUE,
    group_v4 TEXT UNIQUE,
    -- the 23 bits of group_v4 that reach the Ethernet MAC: UNIQUE refuses collisions
    mac_v4 INTEGER UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('radio', 'dvb')),
    url TEXT,
    tuning TEXT,
    service_id INTEGER,
    codec TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    pinned INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    directory_id INTEGER REFERENCES directories(id) ON DELETE SET NULL,
    external_id TEXT,
    homepage TEXT,
    country TEXT,
    bitrate INTEGER,
    -- the group was written by hand (config channels:), not derived from the plan
    explicit_group INTEGER NOT NULL DEFAULT 0,
    last_seen_sync INTEGER,
    missing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (directory_id, external_id)
  );

  CREATE TABLE syncs (
    id INTEGER PRIMARY KEY,
    directory_id INTEGER NOT NULL REFERENCES directories(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    seen INTEGER NOT NULL DEFAULT 0,
    added INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    missing INTEGER NOT NULL DEFAULT 0,
    skip_reasons TEXT NOT NULL DEFAULT '{}'
  );

  CREATE TABLE session_history (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    group_addr TEXT NOT NULL,
    channel_id INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    event TEXT NOT NULL CHECK (event IN ('start', 'live', 'stop', 'fail', 'refused')),
    reason TEXT,
    listeners INTEGER,
    error TEXT
  );
  CREATE INDEX session_history_group ON session_history (group_addr, id);
  `,
];
