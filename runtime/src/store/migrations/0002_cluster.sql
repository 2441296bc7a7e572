-- What nodes of a cluster coordinate through (see `Store::lease`, `claim` and
-- `watch`).

-- A claim on an entry: which node holds it and until when. A put keeps the
-- claim, a delete ends it with the entry.
ALTER TABLE entries
    ADD COLUMN claimed_by    text,
    ADD COLUMN claimed_until timestamptz;

-- Named leases: one holder at a time, until the lease lapses.
CREATE TABLE leases (
    name   text COLLATE "C" PRIMARY KEY,
    holder text NOT NULL,
    until  timestamptz NOT NULL
);

-- Trees some node watches: a write to one of them sends a notice on the
-- `dialect_store` channel; writes to the others send none (a NOTIFY serializes
-- the commits of its database, which the busy trees cannot afford).
CREATE TABLE watched_trees (
    tree text COLLATE "C" PRIMARY KEY
);
