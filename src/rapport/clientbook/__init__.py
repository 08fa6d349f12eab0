"""Client books: who looks after which client, assignment by the retailer's rules, and the book screen's query."""
