"""Lambda entry points: thin adapters from events to the runtime's core classes."""
