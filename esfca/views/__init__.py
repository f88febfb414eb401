"""Web pages of the ESFCA manager: thin views (parse, call one service or selector, render).

Tenant and role checks are in ``access``: another tenant's firm or object is a 404, a
role that may see but not act gets a 403 on actions.
"""
