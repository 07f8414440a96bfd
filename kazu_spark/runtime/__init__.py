"""Where the job runs: the Spark session, the one per-worker cache, the memory guard, resource profiles,
the preloading worker daemon and progress. Imports only the base modules (config, schemas, errors, paths)."""
