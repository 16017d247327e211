"""Staff and pupils: row transforms with the filter rules, the store, the importer."""
