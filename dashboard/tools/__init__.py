"""The tool runtime: definitions, the registry and its built-ins and plugins, the pool that runs
them, upstream tools, the `tools` table's mirror and catalog file, and `flask tools`. No pages:
the catalog is dashboard/catalog/, the super-admin upstream pages dashboard/support/."""
