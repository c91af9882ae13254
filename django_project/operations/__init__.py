"""Operating the service: the external systems' emulators and cache warm-up (management
commands), above the domain app and the GraphQL layers they drive."""
