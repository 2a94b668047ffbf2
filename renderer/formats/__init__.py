"""Pure formatting and validation helpers: era dates, public codes and small text transforms."""
