"""Pure DataFrame and Column functions: VEE rules and estimation, gold aggregates, bronze layout, search documents, cache entries, report figures. No storage, no session, no configuration loading."""
