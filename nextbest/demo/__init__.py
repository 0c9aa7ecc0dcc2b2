"""The demo bank: its configuration (`bank/`), generated customers and hidden ground truth."""
