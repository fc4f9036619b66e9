"""Allow ``python -m credit_risk``."""

from credit_risk.cli import console_script

if __name__ == "__main__":
    console_script()
