"""The pure core of the USSD menus: trees as data, validation, and the step engine."""
