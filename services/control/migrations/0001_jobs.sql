-- The distributed mode's job state: one row per job (a stage of a take),
-- its lease with a fencing token, and one row per run in job_runs.
-- Times are the database's (now()), never a worker's clock.

-- Fencing tokens: every acquisition, hand-back and sweep takes the next.
CREATE SEQUENCE IF NOT EXISTS job_fence AS bigint;

CREATE TABLE IF NOT EXISTS jobs (
    stage         text        NOT NULL,
    take_id       text        NOT NULL,
    -- queued (handed back or swept, being republished, or waiting in the
    -- stage queue), running, succeeded, retrying (in a delay queue), dead.
    state         text        NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'retrying', 'dead')),
    -- Retries so far of the run that holds or last held the job.
    attempt       integer     NOT NULL DEFAULT 0,
    -- The token of the current (or last) holder; every change is
    -- conditional on it.
    fence         bigint      NOT NULL,
    -- host:pid of the running worker; NULL when nobody holds the job.
    holder        text,
    -- Until when the lease lives; NULL once released (nothing to sweep).
    lease_expires timestamptz,
    -- The job as received, to republish it if its holder vanishes.
    headers       jsonb       NOT NULL,
    body          bytea       NOT NULL,
    -- 0-1, written with each lease renewal.
    progress      real        NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- When the current (or last) run started.
    started_at    timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    last_error    text,
    PRIMARY KEY (stage, take_id)
);

-- The sweeper's question: which leases of a stage expired?
CREATE INDEX IF NOT EXISTS jobs_lease_expires
    ON jobs (stage, lease_expires) WHERE lease_expires IS NOT NULL;
-- The dashboard's: what is running / failed, newest first.
CREATE INDEX IF NOT EXISTS jobs_state_updated ON jobs (state, updated_at DESC);
CREATE INDEX IF NOT EXISTS jobs_take ON jobs (take_id);

-- One row per acquisition: the job's history.
CREATE TABLE IF NOT EXISTS job_runs (
    fence       bigint      PRIMARY KEY,
    stage       text        NOT NULL,
    take_id     text        NOT NULL,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    -- NULL while running; then succeeded, retrying, dead, handed_back
    -- (shutdown), lost (its lease expired and was swept) or taken_over
    -- (its lease expired and another delivery took the job).
    outcome     text,
    error       text,
    FOREIGN KEY (stage, take_id) REFERENCES jobs (stage, take_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS job_runs_job ON job_runs (stage, take_id, started_at DESC);
