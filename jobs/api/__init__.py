"""The serving API over what gridlake publishes (FastAPI on uvicorn)."""
