"""Staff and pupils: pandas transforms with the filter rules, the store, the importer."""
