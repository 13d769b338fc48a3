"""Background work on RQ: routing reports, sending SMS, escalating, sweeping."""
