"""rq job functions and the judge clients."""
