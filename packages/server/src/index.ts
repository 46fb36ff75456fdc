/** Placeholder until its issue lands: see docs/architecture.md. */
export {}
