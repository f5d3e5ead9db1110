"""A second factor at sign-in: TOTP codes from an authenticator app, recovery codes, remembered devices, and the
workspace setting that requires it."""
