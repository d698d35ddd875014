"""Commands the trainer adds to ``lovelorn`` through the ``lovelorn.commands`` entry points."""
