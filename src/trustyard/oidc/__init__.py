"""Identity: verifying CI tokens (OIDC), publisher claim policies, and a development issuer."""
