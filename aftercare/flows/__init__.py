"""The acts that cross slices, each in one place that reads top to bottom.

A flow opens the transaction, reads what it needs through the slices' readers, decides with the
pure cores (the engine's ``rules.step``, the lifecycle, the planner), writes through the slices'
writers, and commits: it is the only place that commits its work. The slices below take a session
and never commit in a flow's stead, and never call up into a flow.

- ``submit``: daily check-ins, group-committed in batches (the hot path);
- ``amend``: changing a check-in's answers on its day or the next;
- ``help_now``: "I need help now";
- ``sweep``: due prompts and reminders, day closes (missed days and silence), escalations, and push
  delivery; ``worker`` wakes it on a timer, in ``aftercare serve`` or ``aftercare worker``;
- ``response_times``: the supervisors' report of how soon alerts were answered (it reads alerts and,
  once merged, outreach, so it sits above both slices).
"""
