"""Great Expectations suites that gate publication, one module per stage."""
