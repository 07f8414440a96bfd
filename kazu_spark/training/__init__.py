"""Training the token classifier: ``train`` fine-tunes the teacher and ``distill`` the student, both through
``loop`` (the one training loop), ``prune`` and ``model_card``; these are pure torch, except that ``distill``
reads its soft labels with Spark. ``soft_labels`` has a teacher label unlabelled documents (a Spark job), and
``recipe`` runs teacher -> soft labels -> student in one process (``kazu-spark train all``)."""
