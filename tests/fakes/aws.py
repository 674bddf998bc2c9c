"""Names of the AWS resources the tests create in moto."""

SIGNALS_TABLE = "carbon-signals"
