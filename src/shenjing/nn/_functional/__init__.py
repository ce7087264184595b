"""The implementations behind shenjing.nn.functional, one file per kind of op."""
