-- The store's trees in one table: a tree is a name, a key and a value are bytes.
-- One table rather than one per tree because the runtime names its trees freely
-- (a tree per campaign, per list) and a batch spans several of them; the primary
-- key's index serves lookups, ranges and prefix scans. `tree` compares bytewise
-- (collation "C"), and bytea always does, as sled's keys do.
CREATE TABLE entries (
    tree  text COLLATE "C" NOT NULL,
    key   bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (tree, key)
);

-- Strictly increasing counters shared by every runtime on the database.
CREATE TABLE counters (
    name  text COLLATE "C" PRIMARY KEY,
    value bigint NOT NULL
);

-- `Store::sync` writes here with synchronous_commit on, so that its commit
-- flushes the write-ahead log past every earlier asynchronous commit; one row
-- per server backend, so that concurrent syncs do not wait for each other's lock.
CREATE TABLE sync_marker (
    backend integer PRIMARY KEY,
    n       bigint NOT NULL
);
