"""What every process runs on: configuration, the Spark session, Java, Maven, local dates."""
