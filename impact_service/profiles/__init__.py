"""/v1/profiles: hourly load profiles a tenant uploads for annual studies."""
