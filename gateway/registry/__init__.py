"""The registry: places (Rwanda's divisions), officers and volunteers, their CSV imports.

May import the platform, `gateway.ussd.callers` (a volunteer's remembered language) and
`menus`. Never a blueprint.
"""
