"""What the engines' results become: run narratives (`render`), counterexample pages, ITF traces,
the verdict matrix and the per-fix report, the results store and the expected-verdicts manifest."""
