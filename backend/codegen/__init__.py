"""Code generation judged by execution: problem sets, generation backends, the sandbox, pass@k."""
