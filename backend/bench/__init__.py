"""Code-search benchmarks: mining (docstring, code) pairs from source trees, building and reading benchmarks."""
