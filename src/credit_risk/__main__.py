"""Allow ``python -m credit_risk``."""

from credit_risk.cli import app

if __name__ == "__main__":
    app()
