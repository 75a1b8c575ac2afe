"""The stage registry, planning, the runner, the Airflow glue and spark-submit's entry point."""
