"""The pipeline's stages, one module each: ``main(settings, run_date, spark=None)`` reads through stores, calls transforms, writes, records its run. A stage never imports another stage."""
