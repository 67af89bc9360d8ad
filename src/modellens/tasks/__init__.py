"""One recipe per product question: resolve -> capture -> analyses -> a typed result."""
