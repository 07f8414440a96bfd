"""The lakehouse's HTML report: ``data`` reads the tables (Spark), ``render`` writes the page (pure)."""
